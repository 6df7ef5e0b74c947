#include "dead_letters.hpp"

#include <optional>
#include <string_view>

#include "../pg/ingest_sql.hpp"
#include "mlops_ingest/kafka/dead_letter_publisher.hpp"
#include "mlops_ingest/pg/copy_encoder.hpp"
#include "mlops_ingest/encode/row_encoder.hpp"

namespace mlops_ingest {

void DeadLetters::clear() {
  rejected_.clear();
  rejected_meta_.clear();
}

void DeadLetters::reject_row(const WriteContext& ctx, std::uint32_t slot, const pg::PgError& error,
                             BatchOutcome& out) {
  const Envelope& env = ctx.slot(slot);
  std::string message = "PostgreSQL refused the row: ";
  message += error.what();
  rejected_meta_.push_back({slot, message, error.sqlstate()});
  DeadLetter letter{ctx.topic_name(env.topic), env.partition, env.offset,
                    env.key.empty() ? std::nullopt : std::optional<std::string_view>(env.key),
                    std::string_view(env.payload), RejectReason::kDatabaseRejected, message,
                    std::string_view(error.sqlstate())};
  rejected_.emplace_back();
  encode_dead_letter(letter, ctx.cfg.dead_letter_payload_max_bytes, rejected_.back());
  ++out.dead_letters;
  ++out.by_reason[static_cast<std::size_t>(RejectReason::kDatabaseRejected)];
}

boost::asio::awaitable<void> DeadLetters::write(WriteContext& ctx) {
  ctx.chunks.clear();
  ctx.chunks.push_back(pg::kCopyHeader);
  for (std::uint32_t i : ctx.plan().letters) ctx.chunks.push_back(ctx.slot(i).tuple);
  for (const std::string& t : rejected_) ctx.chunks.push_back(t);
  ctx.chunks.push_back(pg::kCopyTrailer);
  co_await ctx.conn.copy_in(pg::sql::copy_dead_letters(), ctx.chunks);
}

void DeadLetters::mirror(const WriteContext& ctx, kafka::DeadLetterPublisher& topic) const {
  auto as_optional = [](const std::string& s) {
    return s.empty() ? std::nullopt : std::optional<std::string_view>(s);
  };
  for (std::uint32_t i : ctx.plan().letters) {
    const Envelope& env = ctx.slot(i);
    const std::optional<std::string_view> payload =
        env.reason == RejectReason::kTombstone ? std::nullopt : std::optional<std::string_view>(env.payload);
    topic.publish(ctx.topic_name(env.topic), env.partition, env.offset, as_optional(env.key), payload,
                  reason_code(env.reason), env.reason_text, "");
  }
  for (const RejectedRow& r : rejected_meta_) {
    const Envelope& env = ctx.slot(r.slot);
    topic.publish(ctx.topic_name(env.topic), env.partition, env.offset, as_optional(env.key),
                  std::string_view(env.payload), reason_code(RejectReason::kDatabaseRejected), r.message,
                  r.sqlstate);
  }
}

}  // namespace mlops_ingest
