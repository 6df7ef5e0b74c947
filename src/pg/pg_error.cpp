#include "mlops_ingest/pg/pg_error.hpp"

namespace mlops_ingest::pg {

ErrorAction classify_sqlstate(std::string_view sqlstate) noexcept {
  if (sqlstate.size() != 5) return ErrorAction::kRetry;
  const std::string_view cls = sqlstate.substr(0, 2);
  // 22 data_exception (bad value, string too long, invalid encoding, out of range...),
  // 23 integrity_constraint_violation (check, not null, foreign key, unique).
  if (cls == "22" || cls == "23") return ErrorAction::kReject;
  // Everything else is not the row's fault: 08 connection, 40 rollback (serialization,
  // deadlock), 53 insufficient resources (disk full, too many connections), 57 operator
  // intervention (shutdown, cancel), 58 system I/O, 55 lock not available, XX internal,
  // 42/3D/28 schema or permission problems an operator must fix. Retrying them loses nothing;
  // dead-lettering them would lose everything (kafka-connect-jdbc #1312).
  return ErrorAction::kRetry;
}

}  // namespace mlops_ingest::pg
