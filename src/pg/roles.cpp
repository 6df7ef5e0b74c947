#include "mlops_ingest/pg/roles.hpp"

#include <algorithm>
#include <optional>
#include <stdexcept>

#include "mlops_ingest/config/config.hpp"
#include "mlops_ingest/pg/advisory_locks.hpp"
#include "mlops_ingest/pg/blocking_connection.hpp"

namespace mlops_ingest::pg {
namespace {

std::vector<std::string> split_privileges(std::string_view list) {
  std::vector<std::string> out;
  while (!list.empty()) {
    const std::size_t comma = list.find(',');
    std::string_view item = list.substr(0, comma);
    while (!item.empty() && item.front() == ' ') item.remove_prefix(1);
    while (!item.empty() && item.back() == ' ') item.remove_suffix(1);
    if (!item.empty()) out.emplace_back(item);
    if (comma == std::string_view::npos) break;
    list.remove_prefix(comma + 1);
  }
  return out;
}

// Every table the roles' privileges are managed on: the ingester's tables and the seed's.
std::vector<std::string_view> managed_tables() {
  std::vector<std::string_view> out(kSeedTables.begin(), kSeedTables.end());
  for (const TableGrant& g : kIngestGrants) {
    if (std::find(out.begin(), out.end(), g.table) == out.end()) out.push_back(g.table);
  }
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

std::string join(const std::vector<std::string>& items, std::string_view separator) {
  std::string out;
  for (const std::string& item : items) {
    if (!out.empty()) out += separator;
    out += item;
  }
  return out;
}

// The sequence behind `table`.id (already quoted and schema-qualified), if it has one.
std::optional<std::string> serial_sequence(BlockingConnection& conn, std::string_view table) {
  const std::string seq = conn.query_value(
      "SELECT pg_get_serial_sequence(c.oid::regclass::text, 'id') FROM pg_class c WHERE c.oid = to_regclass($1) "
      "AND EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attname = 'id' AND NOT a.attisdropped)",
      {std::string(table)});
  if (seq.empty()) return std::nullopt;
  return seq;
}

// Refuses to manage a role whose privileges we must not reset: the tables' owner, a superuser,
// the connected user itself. REVOKE ALL on the owner would take its own rights away.
void refuse_privileged_role(BlockingConnection& conn, const std::string& role, const std::string& table_list) {
  const std::string r = conn.escape_literal(role);
  PgResult res = conn.exec(
      "SELECT rolsuper, rolname = current_user, EXISTS (SELECT 1 FROM pg_class c WHERE c.relowner = r.oid AND c.oid = "
      "ANY (ARRAY[" + table_list + "]::regclass[])) FROM pg_roles r WHERE rolname = " + r);
  if (PQntuples(res.get()) == 0) return;
  auto yes = [&](int col) { return std::string_view(PQgetvalue(res.get(), 0, col)) == "t"; };
  if (yes(0) || yes(1) || yes(2)) {
    throw std::invalid_argument("refusing to manage role '" + role +
                                "': it is a superuser, the connected user or the owner of the tables, and "
                                "`schema roles` resets a role's privileges on them; pick a dedicated role name");
  }
}

}  // namespace

namespace {

// What `schema roles` manages, read from the database under its lock.
struct ManagedObjects {
  std::string table_literals;         // 'table', … (for regclass arrays)
  std::string tables;                 // table, … (for GRANT and REVOKE)
  std::vector<std::string> sequences;  // the serial sequences behind the tables
  std::string database;               // the current database, as an identifier
  std::vector<std::string> schemas;    // the schemas holding the tables
};

ManagedObjects inspect_managed_objects(BlockingConnection& conn) {
  ManagedObjects out;
  const std::vector<std::string_view> tables = managed_tables();
  std::vector<std::string> missing;
  for (std::string_view t : tables) {
    if (conn.query_value("SELECT to_regclass($1) IS NULL", {std::string(t)}) == "t") missing.emplace_back(t);
    out.table_literals += (out.table_literals.empty() ? "" : ",") + conn.escape_literal(t);
    out.tables += (out.tables.empty() ? "" : ", ") + std::string(t);
  }
  if (!missing.empty()) {
    throw std::invalid_argument("tables missing: " + join(missing, ", ") +
                                "; run `mlops-ingest schema apply --pg DSN` first (as the user that will own them)");
  }
  for (std::string_view t : tables) {
    if (auto seq = serial_sequence(conn, t)) out.sequences.push_back(*seq);
  }
  out.database = conn.escape_identifier(conn.query_value("SELECT current_database()"));
  PgResult res = conn.exec("SELECT DISTINCT relnamespace::regnamespace::text FROM pg_class WHERE oid = ANY (ARRAY[" +
                           out.table_literals + "]::regclass[])");
  for (int i = 0; i < PQntuples(res.get()); ++i) out.schemas.emplace_back(PQgetvalue(res.get(), i, 0));
  return out;
}

// A role created if missing (LOGIN, no password), then its privileges on every managed object
// reset to nothing but USAGE on their schemas, so that a re-run also removes rights granted by
// hand. Returns the role as an identifier.
std::string prepare_role(BlockingConnection& conn, const ManagedObjects& managed, const std::string& role,
                         std::vector<std::string>& report) {
  refuse_privileged_role(conn, role, managed.table_literals);
  const std::string id = conn.escape_identifier(role);
  if (conn.query_value("SELECT count(*) FROM pg_roles WHERE rolname = $1", {role}) == "0") {
    conn.exec("CREATE ROLE " + id + " LOGIN");
    report.push_back("created role " + role + " (LOGIN, no password: set one with ALTER ROLE ... PASSWORD, or use "
                     "client certificates)");
  } else {
    report.push_back("role " + role + " exists: its privileges on the ingester's tables are reset");
  }
  conn.exec("REVOKE ALL ON TABLE " + managed.tables + " FROM " + id);
  if (!managed.sequences.empty()) conn.exec("REVOKE ALL ON SEQUENCE " + join(managed.sequences, ", ") + " FROM " + id);
  conn.exec("REVOKE ALL ON DATABASE " + managed.database + " FROM " + id);
  for (const std::string& s : managed.schemas) {
    conn.exec("REVOKE ALL ON SCHEMA " + s + " FROM " + id);
    conn.exec("GRANT USAGE ON SCHEMA " + s + " TO " + id);
  }
  return id;
}

void grant_ingest(BlockingConnection& conn, const ManagedObjects& managed, const std::string& role, bool retention,
                  std::vector<std::string>& report) {
  const std::string id = prepare_role(conn, managed, role, report);
  std::string database_privileges;
  for (std::string_view p : kIngestDatabasePrivileges) {
    database_privileges += (database_privileges.empty() ? "" : ", ") + std::string(p);
  }
  conn.exec("GRANT " + database_privileges + " ON DATABASE " + managed.database + " TO " + id);
  for (const TableGrant& g : kIngestGrants) {
    conn.exec("GRANT " + std::string(g.privileges) + " ON TABLE " + std::string(g.table) + " TO " + id);
    report.push_back(role + ": " + std::string(g.privileges) + " on " + std::string(g.table));
    if (g.serial_id) {
      if (auto seq = serial_sequence(conn, g.table)) conn.exec("GRANT USAGE ON SEQUENCE " + *seq + " TO " + id);
    }
  }
  if (retention) {
    for (const TableGrant& g : kRetentionGrants) {
      conn.exec("GRANT " + std::string(g.privileges) + " ON TABLE " + std::string(g.table) + " TO " + id);
    }
    conn.exec("GRANT SELECT (" + std::string(kDeadLetterAgeColumns) + ") ON TABLE ingest_dead_letters TO " + id);
    report.push_back(role + ": DELETE on ingest_dead_letters and ingest_appended, SELECT (" +
                     std::string(kDeadLetterAgeColumns) + ") on ingest_dead_letters (--retention)");
  }
  report.push_back(role + ": " + database_privileges + " on the database; USAGE on the serial sequences it inserts through");
}

void grant_analytics(BlockingConnection& conn, const ManagedObjects& managed, const std::string& role,
                     std::vector<std::string>& report) {
  const std::string id = prepare_role(conn, managed, role, report);
  conn.exec("GRANT CONNECT ON DATABASE " + managed.database + " TO " + id);
  std::string seed;
  for (std::string_view t : kSeedTables) seed += (seed.empty() ? "" : ", ") + std::string(t);
  conn.exec("GRANT SELECT ON TABLE " + seed + " TO " + id);
  report.push_back(role + ": SELECT on " + seed);
}

// Before PostgreSQL 15, PUBLIC may create tables in schema public, and every role inherits
// that: it is a database-wide default only its owner should change, so say so.
void warn_public_create(BlockingConnection& conn, const ManagedObjects& managed, const RoleNames& roles,
                        std::vector<std::string>& report) {
  for (const std::string& role : {roles.ingest, roles.analytics}) {
    if (role.empty()) continue;
    for (const std::string& s : managed.schemas) {
      if (conn.query_value("SELECT has_schema_privilege($1, $2, 'CREATE')", {role, s}) == "t") {
        report.push_back("WARNING: " + role + " can still create tables in schema " + s +
                         " through PUBLIC (the default before PostgreSQL 15); run: REVOKE CREATE ON SCHEMA " + s +
                         " FROM PUBLIC");
      }
    }
  }
}

}  // namespace

std::vector<std::string> apply_roles(const std::string& admin_dsn, const RoleNames& roles) {
  if (roles.ingest.empty() && roles.analytics.empty()) {
    throw std::invalid_argument("give --ingest-role and/or --analytics-role");
  }
  if (roles.ingest == roles.analytics) {
    throw std::invalid_argument("the ingest and analytics roles must differ");
  }
  BlockingConnection conn(admin_dsn);
  std::vector<std::string> report;
  conn.exec("BEGIN");
  conn.exec("SET LOCAL client_min_messages = warning");  // LOCAL: nothing outlives it behind a pooler
  conn.exec(advisory_lock::xact_lock_sql(advisory_lock::kSchemaRoles));
  const ManagedObjects managed = inspect_managed_objects(conn);
  if (!roles.ingest.empty()) grant_ingest(conn, managed, roles.ingest, roles.retention, report);
  if (!roles.analytics.empty()) grant_analytics(conn, managed, roles.analytics, report);
  conn.exec("COMMIT");
  warn_public_create(conn, managed, roles, report);
  return report;
}

std::vector<TableGrant> needed_ingest_grants(const Config& config) {
  std::vector<TableGrant> out(kIngesterTableGrants.begin(), kIngesterTableGrants.end());
  for (const EventKindSpec& spec : kEventKinds) {
    const bool paired = spec.mode == WriteMode::kDependsOnKind || detail::awaited_by_another_kind(spec);
    if (!config.topic_of(spec.kind).empty() || paired) out.push_back(detail::kind_grant(spec));
  }
  if (config.dead_letter_retention.count() > 0) out.push_back(kRetentionGrants[0]);
  if (config.appended_retention.count() > 0) out.push_back(kRetentionGrants[1]);
  return out;
}

std::vector<std::string> missing_ingest_privileges(const std::string& dsn, std::span<const TableGrant> grants) {
  BlockingConnection conn(dsn);
  return missing_ingest_privileges(conn, grants);
}

std::vector<std::string> missing_ingest_privileges(BlockingConnection& conn, std::span<const TableGrant> grants) {
  std::vector<std::string> missing;
  for (const TableGrant& g : grants) {
    const std::string table(g.table);
    if (conn.query_value("SELECT to_regclass($1) IS NULL", {table}) == "t") {
      missing.push_back("table " + std::string(g.table) +
                        " (it does not exist, or its schema is not usable: run `mlops-ingest schema apply` as its "
                        "owner)");
      continue;
    }
    for (const std::string& privilege : split_privileges(g.privileges)) {
      if (conn.query_value("SELECT has_table_privilege(to_regclass($1), $2)", {table, privilege}) != "t") {
        missing.push_back(privilege + " on " + std::string(g.table));
      }
    }
    if (g.serial_id) {
      if (auto seq = serial_sequence(conn, g.table)) {
        if (conn.query_value("SELECT has_sequence_privilege($1, 'USAGE')", {*seq}) != "t") {
          missing.push_back("USAGE on sequence " + *seq);
        }
      }
    }
  }
  for (std::string_view privilege : kIngestDatabasePrivileges) {
    if (conn.query_value("SELECT has_database_privilege(current_database(), $1)", {std::string(privilege)}) != "t") {
      missing.push_back(std::string(privilege) + " on the database");
    }
  }
  return missing;
}

void check_ingest_privileges(BlockingConnection& conn, std::span<const TableGrant> grants) {
  const std::vector<std::string> missing = missing_ingest_privileges(conn, grants);
  if (missing.empty()) return;
  const std::string user = conn.query_value("SELECT current_user");
  throw PgError("the PostgreSQL role '" + user + "' lacks privileges `run` needs: " + join(missing, ", ") +
                    ". Grant them as the tables' owner with `mlops-ingest schema roles --pg OWNER_DSN --ingest-role " +
                    user + "` (docs/security.md)",
                "42501");
}

}  // namespace mlops_ingest::pg
