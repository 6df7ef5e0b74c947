#include "mlops_ingest/pg/schema_drift.hpp"

#include <libpq-fe.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <map>
#include <set>
#include <string_view>

#include "mlops_ingest/event/event_kinds.hpp"
#include "mlops_ingest/log/log.hpp"
#include "mlops_ingest/pg/blocking_connection.hpp"
#include "mlops_ingest/pg/roles.hpp"

namespace mlops_ingest::pg {
namespace {

// A column mlops-ingest writes (filled) or whose type its own schema fixes.
struct Column {
  std::string name;
  std::string type;             // as format_type() spells it
  std::uint32_t max_chars = 0;  // a VARCHAR(n): text, or any VARCHAR at least n wide, fits too
  bool filled = true;
  bool may_be_null = false;  // the ingester sends NULL for it (an absent field)
};

struct Key {
  std::vector<std::string> columns;  // sorted: ON CONFLICT infers an index by its column set
  std::string why;
};

struct ForeignKey {
  std::string column;
  std::string ref_table;
  std::string ref_column;
  std::string why;
};

struct Expected {
  std::vector<Column> columns;
  std::vector<Key> unique;
  std::vector<ForeignKey> foreign;
};

// The ingester's own tables as schema/002_ingest_tables.sql creates them (label_pending: the
// label kind's columns, then these). `filled`: a statement of pg/ingest_sql.cpp writes it.
struct OwnColumn {
  std::string_view table;
  std::string_view name;
  std::string_view type;
  bool filled;
};
constexpr std::array<OwnColumn, 30> kOwnColumns = {{
    {"ingest_offsets", "consumer_group", "text", true},
    {"ingest_offsets", "topic", "text", true},
    {"ingest_offsets", "kafka_partition", "integer", true},
    {"ingest_offsets", "next_offset", "bigint", true},
    {"ingest_offsets", "updated_at", "timestamp with time zone", false},
    {"label_pending", "received_at", "timestamp with time zone", false},
    {"ingest_dead_letters", "id", "bigint", false},
    {"ingest_dead_letters", "topic", "text", true},
    {"ingest_dead_letters", "kafka_partition", "integer", true},
    {"ingest_dead_letters", "kafka_offset", "bigint", true},
    {"ingest_dead_letters", "message_key", "bytea", true},
    {"ingest_dead_letters", "payload", "bytea", true},
    {"ingest_dead_letters", "payload_bytes", "integer", true},
    {"ingest_dead_letters", "reason_code", "text", true},
    {"ingest_dead_letters", "reason", "text", true},
    {"ingest_dead_letters", "sqlstate", "text", true},
    {"ingest_dead_letters", "dead_lettered_at", "timestamp with time zone", false},
    {"ingest_dead_letters", "attempts", "integer", false},
    {"ingest_dead_letters", "last_attempt_at", "timestamp with time zone", false},
    {"ingest_appended", "topic", "text", true},
    {"ingest_appended", "kafka_partition", "integer", true},
    {"ingest_appended", "kafka_offset", "bigint", true},
    {"ingest_appended", "target_table", "text", true},
    {"ingest_appended", "appended_at", "timestamp with time zone", false},
    {"ingest_instances", "consumer_group", "text", true},
    {"ingest_instances", "instance_id", "text", true},
    {"ingest_instances", "started_at", "timestamp with time zone", false},
    {"ingest_instances", "renewed_at", "timestamp with time zone", true},
    {"ingest_instances", "expires_at", "timestamp with time zone", true},
    {"ingest_instances", "offsets_reset_at", "timestamp with time zone", true},
}};

Column field_column(const FieldSpec& f) {
  Column c;
  c.name = f.name;
  c.max_chars = f.type == ColumnType::kText ? f.max_chars : 0;
  c.type = c.max_chars > 0 ? "character varying(" + std::to_string(c.max_chars) + ")"
                           : std::string(column_type_names(f.type).catalog);
  c.may_be_null = f.absent == WhenAbsent::kNull;
  return c;
}

Key key_of(std::vector<std::string> columns, std::string why) {
  std::sort(columns.begin(), columns.end());
  return {std::move(columns), std::move(why)};
}

Expected expected_of_kind(const EventKindSpec& spec) {
  Expected e;
  for (const FieldSpec& f : spec.fields) e.columns.push_back(field_column(f));
  const std::string key(spec.key);
  if (!key.empty()) e.unique.push_back(key_of({key}, "ON CONFLICT (" + key + ") needs it"));
  if (spec.mode == WriteMode::kDependsOnKind) {
    for (const EventKindSpec& other : kEventKinds) {
      if (other.mode != WriteMode::kDependsOnKind && other.key == spec.key) {
        e.foreign.push_back({key, std::string(other.table), key,
                             "a " + std::string(spec.name) + " is stored only with its " + std::string(other.name)});
      }
    }
  }
  return e;
}

Expected expected_of(std::string_view table) {
  for (const EventKindSpec& spec : kEventKinds) {
    if (spec.table == table) return expected_of_kind(spec);
  }
  Expected e;
  if (table == "label_pending") {
    const EventKindSpec& labels = kind_spec(TopicKind::kLabels);
    for (const FieldSpec& f : labels.fields) e.columns.push_back(field_column(f));
    e.unique.push_back(key_of({std::string(labels.key)}, "ON CONFLICT (" + std::string(labels.key) + ") needs it"));
  }
  for (const OwnColumn& c : kOwnColumns) {
    if (c.table == table) e.columns.push_back({std::string(c.name), std::string(c.type), 0, c.filled, false});
  }
  if (table == "ingest_offsets") {
    e.unique.push_back(key_of({"consumer_group", "topic", "kafka_partition"}, "one stored offset per partition"));
  }
  if (table == "ingest_appended") {
    e.unique.push_back(key_of({"topic", "kafka_partition", "kafka_offset"}, "each message appended once"));
  }
  if (table == "ingest_instances") {
    e.unique.push_back(key_of({"consumer_group", "instance_id"}, "ON CONFLICT of a lease's renewal needs it"));
  }
  return e;
}

bool type_fits(const Column& c, const std::string& found) {
  if (found == c.type) return true;
  if (c.type != "text" && c.max_chars == 0) return false;
  if (found == "text" || found == "character varying") return true;
  constexpr std::string_view kVarchar = "character varying(";
  if (c.max_chars == 0 || found.rfind(kVarchar, 0) != 0) return false;
  return std::stoul(found.substr(kVarchar.size())) >= c.max_chars;
}

std::string shown(const Column& c) {
  if (c.max_chars > 0) return c.type + " or wider";
  return c.type;
}

// A text[] literal of `items` (table names: identifiers, optionally schema-qualified).
std::string text_array(const std::vector<std::string>& items) {
  std::string out = "{";
  for (const std::string& item : items) {
    if (out.size() > 1) out += ',';
    out += '"' + item + '"';
  }
  return out + "}";
}

struct FoundColumn {
  std::string type;
  bool not_null = false;
  bool has_default = false;
};

// Everything the catalog says about the tables, keyed by the table name as asked.
struct Catalog {
  std::map<std::string, std::map<std::string, FoundColumn>> columns;  // no entry: no such table
  std::map<std::string, std::vector<std::string>> column_order;
  std::map<std::string, std::set<std::string>> unique;   // "a,b" sorted
  std::map<std::string, std::set<std::string>> foreign;  // "column>ref_table.ref_column"
};

// The catalog queries, each with one parameter (text_array of the tables): columns; indexes
// ON CONFLICT can infer (unique, valid, on plain columns, not partial); foreign keys.
const std::array<std::string, 3> kCatalogQueries = {
    "SELECT t.name, a.attname, format_type(a.atttypid, a.atttypmod), a.attnotnull, "
    "       a.atthasdef OR a.attidentity <> '' OR a.attgenerated <> '' "
    "FROM unnest($1::text[]) WITH ORDINALITY AS t(name, n) "
    "JOIN pg_attribute a ON a.attrelid = to_regclass(t.name) AND a.attnum > 0 AND NOT a.attisdropped "
    "ORDER BY t.n, a.attnum",
    "SELECT t.name, array_to_string(ARRAY(SELECT a.attname FROM unnest(i.indkey::int2[]) k "
    "  JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k ORDER BY a.attname), ',') "
    "FROM unnest($1::text[]) AS t(name) JOIN pg_index i ON i.indrelid = to_regclass(t.name) "
    "WHERE i.indisunique AND i.indisvalid AND i.indpred IS NULL AND i.indexprs IS NULL",
    "SELECT t.name, array_to_string(ARRAY(SELECT a.attname FROM unnest(c.conkey) k "
    "  JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k), ',') || '>' || r.relname || '.' || "
    "  array_to_string(ARRAY(SELECT a.attname FROM unnest(c.confkey) k "
    "  JOIN pg_attribute a ON a.attrelid = c.confrelid AND a.attnum = k), ',') "
    "FROM unnest($1::text[]) AS t(name) JOIN pg_constraint c ON c.conrelid = to_regclass(t.name) "
    "  AND c.contype = 'f' JOIN pg_class r ON r.oid = c.confrelid",
};

std::string cell(const PGresult* r, int row, int col) { return PQgetvalue(r, row, col); }

Catalog read_catalog(const std::array<const PGresult*, 3>& answers) {
  Catalog out;
  const PGresult* cols = answers[0];
  for (int i = 0; i < PQntuples(cols); ++i) {
    const std::string table = cell(cols, i, 0), name = cell(cols, i, 1);
    out.columns[table][name] = {cell(cols, i, 2), cell(cols, i, 3) == "t", cell(cols, i, 4) == "t"};
    out.column_order[table].push_back(name);
  }
  const PGresult* unique = answers[1];
  for (int i = 0; i < PQntuples(unique); ++i) out.unique[cell(unique, i, 0)].insert(cell(unique, i, 1));
  const PGresult* foreign = answers[2];
  for (int i = 0; i < PQntuples(foreign); ++i) out.foreign[cell(foreign, i, 0)].insert(cell(foreign, i, 1));
  return out;
}

void compare_columns(const std::string& table, const Expected& e, const Catalog& catalog,
                     std::vector<SchemaFinding>& out) {
  const auto& found = catalog.columns.at(table);
  std::set<std::string> expected_names;
  for (const Column& c : e.columns) {
    expected_names.insert(c.name);
    const auto it = found.find(c.name);
    if (it == found.end()) {
      out.push_back({table, c.name, shown(c), "no such column"});
    } else if (!type_fits(c, it->second.type)) {
      out.push_back({table, c.name, shown(c), it->second.type});
    } else if (c.may_be_null && it->second.not_null) {
      out.push_back({table, c.name, "nullable", "NOT NULL (events without it are dead-lettered)", false});
    }
  }
  for (const std::string& name : catalog.column_order.at(table)) {
    const FoundColumn& f = found.at(name);
    const auto it = std::find_if(e.columns.begin(), e.columns.end(), [&](const Column& c) { return c.name == name; });
    const bool filled = it != e.columns.end() && it->filled;
    if (filled || f.has_default) continue;
    if (f.not_null) {
      out.push_back(
          {table, name, "nullable or a default (mlops-ingest does not write it)", "NOT NULL without a default"});
    } else if (expected_names.count(name) == 0) {
      out.push_back({table, name, "no such column", f.type + ", nullable: mlops-ingest leaves it NULL (fine)", false});
    }
  }
}

void compare_keys(const std::string& table, const Expected& e, const Catalog& catalog,
                  std::vector<SchemaFinding>& out) {
  const auto unique = catalog.unique.find(table);
  for (const Key& k : e.unique) {
    std::string joined, shown_cols;
    for (const std::string& c : k.columns) {
      joined += (joined.empty() ? "" : ",") + c;
      shown_cols += (shown_cols.empty() ? "" : ", ") + c;
    }
    if (unique == catalog.unique.end() || unique->second.count(joined) == 0) {
      out.push_back({table, "(" + shown_cols + ")", "a unique key (" + k.why + ")", "none"});
    }
  }
  const auto foreign = catalog.foreign.find(table);
  for (const ForeignKey& fk : e.foreign) {
    const std::string wanted = fk.column + ">" + fk.ref_table + "." + fk.ref_column;
    if (foreign == catalog.foreign.end() || foreign->second.count(wanted) == 0) {
      out.push_back({table, fk.column, "a foreign key to " + fk.ref_table + "(" + fk.ref_column + ") (" + fk.why + ")",
                     "none"});
    }
  }
}

}  // namespace

std::string SchemaFinding::line() const {
  std::string where = table;
  if (!column.empty()) where += (column.front() == '(' ? " " : ".") + column;
  return where + ": expected " + expected + ", found " + found;
}

std::vector<std::string> written_tables(const Config* config) {
  std::vector<std::string> out;
  if (config == nullptr) {
    for (const TableGrant& g : kIngestGrants) out.emplace_back(g.table);
  } else {
    for (const TableGrant& g : needed_ingest_grants(*config)) out.emplace_back(g.table);
  }
  return out;
}

const std::array<std::string, 3>& schema_drift_queries() { return kCatalogQueries; }

std::string schema_drift_param(const std::vector<std::string>& tables) { return text_array(tables); }

std::vector<SchemaFinding> schema_drift(BlockingConnection& conn, const std::vector<std::string>& tables) {
  const std::vector<std::string> params = {text_array(tables)};
  std::array<PgResult, 3> answers;
  for (std::size_t i = 0; i < answers.size(); ++i) answers[i] = conn.exec_params(kCatalogQueries[i], params);
  return schema_drift_from(tables, {answers[0].get(), answers[1].get(), answers[2].get()});
}

std::vector<SchemaFinding> schema_drift_from(const std::vector<std::string>& tables,
                                             const std::array<const PGresult*, 3>& answers) {
  const Catalog catalog = read_catalog(answers);
  std::vector<SchemaFinding> out;
  for (const std::string& table : tables) {
    if (catalog.columns.count(table) == 0) {
      out.push_back({table, "", "the table", "no such table", true, true});
      continue;
    }
    const Expected e = expected_of(table);
    compare_columns(table, e, catalog, out);
    compare_keys(table, e, catalog, out);
  }
  std::stable_partition(out.begin(), out.end(), [](const SchemaFinding& f) { return f.problem; });
  return out;
}

void check_schema_drift(BlockingConnection& conn, const std::vector<std::string>& tables) {
  std::string problems;
  int count = 0;
  for (const SchemaFinding& f : schema_drift(conn, tables)) {
    if (!f.problem) {
      log_info("schema: " + f.line());
      continue;
    }
    ++count;
    problems += "\n  " + f.line();
  }
  if (count == 0) return;
  throw SchemaDriftError("the tables differ from what mlops-ingest writes, " + std::to_string(count) +
                         " problem(s); fix them and start again (docs/operations.md, \"The table changed "
                         "under it\"):" + problems);
}

}  // namespace mlops_ingest::pg
