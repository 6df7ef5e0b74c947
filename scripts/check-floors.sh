#!/usr/bin/env bash
# The core library's folders are floors (docs/design.md, "Layout"): each may include only the
# floors listed before it here, so no two folders depend on each other both ways. Exits 1 and
# names every include that breaks the order. Run by the unit tier (ctest -R layout_floors).
set -euo pipefail
cd "$(dirname "$0")/.."
floors=(log event config kafka pg stats handoff encode replay consume write observe operate loadtest app devtools)
status=0
for ((i = 0; i < ${#floors[@]}; i++)); do
  floor=${floors[$i]}
  allowed=" ${floors[*]:0:$i} $floor "
  for dir in "src/$floor" "include/mlops_ingest/$floor"; do
    [ -d "$dir" ] || continue
    # "mlops_ingest/<floor>/…" and "../<floor>/…" name another folder; anything else is local.
    while IFS=: read -r file line text; do
      used=$(sed -E 's@.*#include "(mlops_ingest/|\.\./)([a-z_]+)/.*@\2@' <<<"$text")
      if [[ "$allowed" != *" $used "* ]]; then
        echo "$file:$line: $floor/ includes $used/, which is not below it: $text"
        status=1
      fi
    done < <(grep -rnE '#include "(mlops_ingest/|\.\./)[a-z_]+/' "$dir" || true)
  done
done
[ $status -eq 0 ] && echo "floors hold: ${floors[*]}"
exit $status
