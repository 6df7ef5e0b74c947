#pragma once
// Least-privilege PostgreSQL roles: the ingest role gets exactly what `mlops-ingest run` does to
// the database and no DDL; the analytics role reads the seed's five tables and writes nothing.
// `schema apply` (run once by the tables' owner) stays the only thing that needs DDL.
//
// kIngestGrants is THE list of what `run` needs. When the writer's SQL starts touching another
// table, or another privilege on one, add it here: `schema roles` grants it, the startup check
// (check_ingest_privileges) asks for it, and the roles tests compare the granted set against it.
#include <array>
#include <string>
#include <string_view>
#include <vector>

namespace mlops_ingest::pg {

struct TableGrant {
  std::string_view table;
  std::string_view privileges;  // comma-separated, as in GRANT
  bool serial_id;               // its `id` column draws from a sequence: USAGE on it too
  std::string_view why;         // which statement of the writer needs it
};

// What `mlops-ingest run` does (src/write/batch_writer.cpp, consumer_loop.cpp). Besides these
// tables: kIngestDatabasePrivileges, and USAGE on the tables' schema. Advisory locks need no
// privilege.
inline constexpr std::array<TableGrant, 9> kIngestGrants = {{
    {"ingest_offsets", "SELECT, INSERT, UPDATE", false,
     "INSERT ... ON CONFLICT DO NOTHING of a batch's partitions, SELECT ... FOR UPDATE (needs "
     "UPDATE), UPDATE next_offset; the consumer reads stored offsets on assignment"},
    {"prediction_logs", "SELECT, INSERT", true,
     "COPY / INSERT ... ON CONFLICT DO NOTHING; labels and pending labels join on it"},
    {"label_store", "SELECT, INSERT", true, "INSERT ... ON CONFLICT DO NOTHING of labels"},
    {"label_pending", "SELECT, INSERT, UPDATE, DELETE", false,
     "labels parked until their prediction arrives; the sweep locks them (FOR UPDATE ... SKIP "
     "LOCKED, which needs UPDATE) and moves them with DELETE ... RETURNING"},
    {"ingest_dead_letters", "INSERT", true, "COPY of dead letters; never read back by the ingester"},
    {"model_metadata", "SELECT, INSERT, UPDATE", true,
     "INSERT ... ON CONFLICT (model_version) DO UPDATE of the fields a model event carries"},
    {"monitoring_alerts", "INSERT", true, "COPY of alerts not appended before"},
    {"retraining_metrics", "INSERT", true, "COPY of retraining decisions not appended before"},
    {"ingest_appended", "INSERT", false,
     "INSERT ... ON CONFLICT DO NOTHING RETURNING of the Kafka positions of appended rows"},
}};

// On the database: CONNECT only. The writers stage nothing in temp tables (rows travel as COPY
// data and array parameters, which also keeps them pooler-safe), so no TEMP.
inline constexpr std::array<std::string_view, 1> kIngestDatabasePrivileges = {"CONNECT"};

// The seed's tables: the analytics role may SELECT these and nothing else.
inline constexpr std::array<std::string_view, 5> kSeedTables = {
    "prediction_logs", "label_store", "model_metadata", "monitoring_alerts", "retraining_metrics"};

struct RoleNames {
  std::string ingest;     // empty: not created
  std::string analytics;  // empty: not created
};

// Creates the roles (LOGIN, no password: set one with ALTER ROLE or use client certificates)
// if missing and sets their privileges on the schema's tables to exactly the lists above
// (REVOKE ALL, then GRANT), idempotently. Needs a connection as the tables' owner (or a
// superuser) with CREATEROLE. Returns what it did, one line each, for the operator.
std::vector<std::string> apply_roles(const std::string& admin_dsn, const RoleNames& roles);

// What the connected user lacks of kIngestGrants (e.g. "INSERT on label_store"); empty if
// nothing. Throws PgError when it cannot ask.
std::vector<std::string> missing_ingest_privileges(const std::string& dsn);

// Stops startup (PgError naming each missing privilege and how to grant it) if the connected
// user cannot do what `run` does.
void check_ingest_privileges(const std::string& dsn);

}  // namespace mlops_ingest::pg
