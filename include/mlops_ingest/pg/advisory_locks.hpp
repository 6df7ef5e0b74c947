#pragma once
// Every advisory-lock key the ingester takes, in one place so that no two jobs share a key by
// accident. All are transaction-level (pg_advisory_xact_lock): COMMIT or ROLLBACK releases them,
// so none stays behind on a transaction-pooling PgBouncer's server connection.
#include <cstdint>
#include <string>

namespace mlops_ingest::pg::advisory_lock {

// Serialises concurrent `schema apply` runs (many instances starting together), which would
// otherwise race on CREATE ... IF NOT EXISTS.
inline constexpr std::int64_t kSchemaApply = 7263540011;
// 7263540012 stays unused: older releases' writers take it, and an instance left running during
// an upgrade must not block on (or block) a newer job's lock.
// Serialises concurrent `schema roles` runs (two operators, two deploy jobs): CREATE ROLE and
// GRANT would otherwise race.
inline constexpr std::int64_t kSchemaRoles = 7263540013;

// Per consumer group, the two-key form (this namespace, hashtext(group)): a lease written
// (shared) and `offsets reset --execute` (exclusive) exclude each other, so an instance that
// starts while a reset executes writes its lease, and reads its offsets, after the reset
// commits. Two groups whose names hash alike only wait for each other's short transactions.
inline constexpr std::int32_t kGroupNamespace = 726354;
// "726354, hashtext(<group literal>)": the arguments of pg_advisory_xact_lock(_shared).
inline std::string group_key_args(const std::string& group_literal) {
  return std::to_string(kGroupNamespace) + ", hashtext(" + group_literal + ")";
}

// The statement that takes `key` until the end of the current transaction.
inline std::string xact_lock_sql(std::int64_t key) {
  return "SELECT pg_advisory_xact_lock(" + std::to_string(key) + ")";
}

}  // namespace mlops_ingest::pg::advisory_lock
