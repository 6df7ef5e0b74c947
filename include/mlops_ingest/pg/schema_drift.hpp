#pragma once
// "The table changed under it": before it consumes, mlops-ingest compares every table it writes
// with what it sends, and stops startup on a difference that would make its writes fail. A DBA
// who turns a FLOAT column into NUMERIC, drops a column, adds a NOT NULL column without a
// default or drops the unique key on prediction_id would otherwise see every batch refused (or
// duplicates stored) only once events flow. Binary COPY needs exact types: each field travels in
// the binary format of its ColumnType (event_kinds.hpp, column_type_names).
//
// What is expected: the kinds' tables from kEventKinds (each field's column and type; the unique
// key of a kind with a key; the foreign key of a kind that waits for another), and the
// ingester's own tables as schema/002_ingest_tables.sql creates them. Fine, and at most a note:
// an extra nullable column or one with a default, an extra index, a wider VARCHAR (or TEXT).
//
// Used by the startup checks (app/startup_gate), `config check` and `schema check`, and by the
// writers when PostgreSQL refuses a table's rows (src/write/table_outage.hpp).
#include <libpq-fe.h>

#include <array>
#include <stdexcept>
#include <string>
#include <vector>

namespace mlops_ingest {
struct Config;
}

namespace mlops_ingest::pg {

class BlockingConnection;

// One difference between a table and what mlops-ingest writes to it or relies on.
struct SchemaFinding {
  std::string table;
  std::string column;  // a column, or "(a, b)" for a key; "" for the table itself
  std::string expected;
  std::string found;
  bool problem = true;         // false: information only
  bool table_missing = false;  // the table does not exist at all
  // "prediction_logs.probability: expected double precision, found numeric"
  [[nodiscard]] std::string line() const;
};

// The tables `run` writes with `config`'s kinds (those of needed_ingest_grants); every table
// mlops-ingest can write when `config` is null.
std::vector<std::string> written_tables(const Config* config);

// Compares `tables` with what mlops-ingest expects of them, in three catalog queries whatever
// the number of tables and columns (columns; unique indexes; foreign keys). Problems first, in
// table order. Throws PgError when it cannot ask.
std::vector<SchemaFinding> schema_drift(BlockingConnection& conn, const std::vector<std::string>& tables);

// The same over a connection of another kind (a writer's, asynchronously, inside its batch
// transaction when PostgreSQL refused a table's rows): run each of schema_drift_queries() with
// the one parameter schema_drift_param(tables), then compare their answers, in that order.
const std::array<std::string, 3>& schema_drift_queries();
std::string schema_drift_param(const std::vector<std::string>& tables);
std::vector<SchemaFinding> schema_drift_from(const std::vector<std::string>& tables,
                                             const std::array<const PGresult*, 3>& answers);

// Thrown by check_schema_drift: not an outage (retrying cannot fix it) and not bad settings.
// The CLI prints what() — a first line, then one line per problem — and exits 2.
class SchemaDriftError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// The startup check: logs every note, throws SchemaDriftError listing every problem.
void check_schema_drift(BlockingConnection& conn, const std::vector<std::string>& tables);

}  // namespace mlops_ingest::pg
