#pragma once
// Least-privilege PostgreSQL roles: the ingest role gets exactly what `mlops-ingest run` does to
// the database and no DDL; the analytics role reads the kinds' tables and writes nothing.
// `schema apply` (run once by the tables' owner) stays the only thing that needs DDL.
//
// kIngestGrants is THE list of what `run` needs: the ingester's own tables (kIngesterTableGrants)
// and, derived from kEventKinds, each kind's table with what its write mode does. When the
// writer's SQL starts touching another table, or another privilege on one, change it here:
// `schema roles` grants it, the startup check (check_ingest_privileges) asks for it, and the
// roles tests compare the granted set against it.
#include <array>
#include <cstddef>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "mlops_ingest/event/event_kinds.hpp"

namespace mlops_ingest {
struct Config;
}

namespace mlops_ingest::pg {

class BlockingConnection;

struct TableGrant {
  std::string_view table;
  std::string_view privileges;  // comma-separated, as in GRANT
  bool serial_id = false;       // its `id` column draws from a sequence: USAGE on it too
  std::string_view why;         // which statement of the writer needs it
};

// What `mlops-ingest run` does to its own tables (src/write/, consumer_loop.cpp), whichever
// kinds there are. Besides these and the kinds' tables: kIngestDatabasePrivileges, and USAGE on
// the tables' schema. Advisory locks need no privilege.
inline constexpr std::array<TableGrant, 5> kIngesterTableGrants = {{
    {"ingest_offsets", "SELECT, INSERT, UPDATE", false,
     "INSERT ... ON CONFLICT DO NOTHING of a batch's partitions, SELECT ... FOR UPDATE (needs "
     "UPDATE), UPDATE next_offset; the consumer reads stored offsets on assignment"},
    {"label_pending", "SELECT, INSERT, UPDATE, DELETE", false,
     "labels parked until their prediction arrives; the sweep locks them (FOR UPDATE ... SKIP "
     "LOCKED, which needs UPDATE) and moves them with DELETE ... RETURNING"},
    {"ingest_dead_letters", "INSERT", true, "COPY of dead letters; never read back by the ingester"},
    {"ingest_appended", "SELECT, INSERT", false,
     "INSERT ... ON CONFLICT DO NOTHING RETURNING (which needs SELECT) of the Kafka positions of "
     "appended rows"},
    {"ingest_instances", "SELECT, INSERT, UPDATE, DELETE", false,
     "the instance's lease on its group: inserted at start, renewed, deleted at stop; expired "
     "leases of the group older than a day are deleted"},
}};

namespace detail {

// True if a kind that waits for another (kDependsOnKind) waits for this one: it shares its key
// (labels wait for the prediction with their prediction_id) and joins on its table.
constexpr bool awaited_by_another_kind(const EventKindSpec& spec) {
  if (spec.mode == WriteMode::kDependsOnKind || spec.key.empty()) return false;
  for (const EventKindSpec& other : kEventKinds) {
    if (other.mode == WriteMode::kDependsOnKind && other.key == spec.key) return true;
  }
  return false;
}

// What the writer does to a kind's table, by its write mode. Every kind's table has a serial id.
constexpr TableGrant kind_grant(const EventKindSpec& spec) {
  switch (spec.mode) {
    case WriteMode::kInsertSkipDuplicates:
      if (awaited_by_another_kind(spec)) {
        return {spec.table, "SELECT, INSERT", true,
                "COPY / INSERT ... ON CONFLICT DO NOTHING; the kind that waits for it joins on it"};
      }
      return {spec.table, "INSERT", true, "COPY / INSERT ... ON CONFLICT DO NOTHING"};
    case WriteMode::kDependsOnKind:
      return {spec.table, "SELECT, INSERT", true, "INSERT ... ON CONFLICT DO NOTHING RETURNING (which needs SELECT)"};
    case WriteMode::kUpsertByKey:
      return {spec.table, "SELECT, INSERT, UPDATE", true,
              "INSERT ... ON CONFLICT (key) DO UPDATE of the fields an event carries"};
    case WriteMode::kAppend:
      return {spec.table, "INSERT", true, "COPY of rows not appended before"};
  }
  return {spec.table, "", true, ""};
}

}  // namespace detail

// The ingester's own tables, then one grant per kind (kEventKinds order).
inline constexpr std::array<TableGrant, kIngesterTableGrants.size() + kTopicKindCount> kIngestGrants = [] {
  std::array<TableGrant, kIngesterTableGrants.size() + kTopicKindCount> out{};
  std::size_t i = 0;
  for (const TableGrant& g : kIngesterTableGrants) out[i++] = g;
  for (const EventKindSpec& spec : kEventKinds) out[i++] = detail::kind_grant(spec);
  return out;
}();

// What the retention pass does (src/operate/retention_pruner.cpp, dead_letter_retention and
// appended_retention). `schema roles --retention` grants these (and SELECT on
// kDeadLetterAgeColumns of the dead letters) on top of kIngestGrants: an opt-in, because deleting
// is a right the ingester needs only with retention on; `run` asks for each only when its
// retention is on (needed_ingest_grants). The pass deletes dead letters by id, so the ingest role
// reads kDeadLetterAgeColumns of them and never a payload.
inline constexpr std::array<TableGrant, 2> kRetentionGrants = {{
    {"ingest_dead_letters", "DELETE", false,
     "dead_letter_retention: DELETE ... WHERE id IN (SELECT id ... WHERE dead_lettered_at < ...)"},
    {"ingest_appended", "DELETE", false, "appended_retention: DELETE of positions older than the retention"},
}};
inline constexpr std::string_view kDeadLetterAgeColumns = "id, dead_lettered_at";

// On the database: CONNECT only. The writers stage nothing in temp tables (rows travel as COPY
// data and array parameters, which also keeps them pooler-safe), so no TEMP.
inline constexpr std::array<std::string_view, 1> kIngestDatabasePrivileges = {"CONNECT"};

// The kinds' tables (the seed's): the analytics role may SELECT these and nothing else.
inline constexpr std::array<std::string_view, kTopicKindCount> kSeedTables = [] {
  std::array<std::string_view, kTopicKindCount> out{};
  for (const EventKindSpec& spec : kEventKinds) out[kind_index(spec.kind)] = spec.table;
  return out;
}();

struct RoleNames {
  std::string ingest;     // empty: not created
  std::string analytics;  // empty: not created
  bool retention = false;  // the ingest role also gets kRetentionGrants
};

// Creates the roles (LOGIN, no password: set one with ALTER ROLE or use client certificates)
// if missing and sets their privileges on the schema's tables to exactly the lists above
// (REVOKE ALL, then GRANT), idempotently. Needs a connection as the tables' owner (or a
// superuser) with CREATEROLE. Returns what it did, one line each, for the operator.
std::vector<std::string> apply_roles(const std::string& admin_dsn, const RoleNames& roles);

// What `run` needs with `config`'s kinds: kIngestGrants less the tables of the kinds that are off
// (an empty topic setting), plus kRetentionGrants' rows whose retention is on. The tables of a kind that waits for another, and of the one it waits
// for, stay: the writers' sweep of label_pending reads and fills them whatever the settings.
std::vector<TableGrant> needed_ingest_grants(const Config& config);

// What the connected user lacks of `grants` (e.g. "INSERT on label_store"); empty if nothing.
// Throws PgError when it cannot ask.
std::vector<std::string> missing_ingest_privileges(const std::string& dsn,
                                                   std::span<const TableGrant> grants = kIngestGrants);
std::vector<std::string> missing_ingest_privileges(BlockingConnection& conn,
                                                   std::span<const TableGrant> grants = kIngestGrants);

// Stops startup (PgError naming each missing privilege and how to grant it) if the connected
// user cannot do what `run` does.
void check_ingest_privileges(BlockingConnection& conn, std::span<const TableGrant> grants = kIngestGrants);

}  // namespace mlops_ingest::pg
