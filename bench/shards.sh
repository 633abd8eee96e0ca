#!/bin/sh
# bench/shards.sh: what sharding a synthesis costs and gains on this machine (issue 15):
# the same job (zoo:emoji16-standard on the bundled emoji16 sample) as N = 1, 2 and 4 shards
# run at the same time (each --threads 1), the wall time and metamers per second of each,
# the time to merge the N shard databases, and the time to merge one database of about
# 10,000 metamers (a shard's records copied under other reference hashes, pointing at the
# same files). Builds nothing; prints a Markdown table.
#
#   bench/shards.sh [BUILD_DIR] [ITERATIONS] [ROUNDS]
#
# BUILD_DIR (default: build) must hold bin/metamerlab. Defaults: 100 iterations x 2 rounds,
# layers conv1 and stage2, batch 2 (16 references: 16 work units). Needs sqlite3 (the
# command-line shell) for the 10,000-metamer database.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
build=${1:-build}
iters=${2:-100}
rounds=${3:-2}
case $build in /*) ;; *) build="$root/$build" ;; esac
bin="$build/bin/metamerlab"
[ -x "$bin" ] || { echo "shards.sh: $bin not found; build it first (ninja -C $build metamerlab)" >&2; exit 2; }
command -v sqlite3 >/dev/null || { echo "shards.sh: needs the sqlite3 shell (apt-get install sqlite3)" >&2; exit 2; }

work=$(mktemp -d "${TMPDIR:-/tmp}/mm-shards.XXXXXX")
trap 'rm -rf "$work"' EXIT
refs="$root/stimuli/samples/emoji16/reference"
now() { date +%s.%N; }
secs() { echo "$2 - $1" | bc -l | awk '{printf "%.1f", $1}'; }

synth() {  # synth DIR [--shard K/N]
  d=$1; shift
  "$bin" synth --model zoo:emoji16-standard --layers conv1,stage2 --input "$refs" --out "$d/out" --db "$d/m.db" \
    --batch 2 --iterations "$iters" --rounds "$rounds" --threads 1 --quiet "$@" >"$d.log" 2>&1
}

echo "| shards | wall s | metamers/s | merge s | metamers merged |"
echo "|---|---|---|---|---|"
for n in 1 2 4; do
  t0=$(now)
  k=0
  while [ $k -lt $n ]; do
    mkdir -p "$work/n$n/s$k"
    synth "$work/n$n/s$k" --shard "$k/$n" &
    k=$((k + 1))
  done
  wait
  t1=$(now)
  dbs=$(ls "$work"/n$n/s*/m.db)
  # shellcheck disable=SC2086
  "$bin" merge "$work/n$n/all.db" $dbs >"$work/n$n/merge.log"
  t2=$(now)
  made=$(sqlite3 "$work/n$n/all.db" "SELECT count(*) FROM metamers")
  echo "| $n | $(secs "$t0" "$t1") | $(echo "$made / ($t1 - $t0)" | bc -l | awk '{printf "%.2f", $1}') | $(secs "$t1" "$t2") | $made |"
done

# About 10,000 metamers in one database: shard 0 of N=1's 32 records, 320 copies each.
big="$work/big.db"
cp "$work/n1/s0/m.db" "$big"
cols=$(sqlite3 "$big" "SELECT group_concat(name, ', ') FROM pragma_table_info('metamers') WHERE name != 'id'")
sel=$(echo "$cols" | sed "s/reference_sha256/reference_sha256 || '-' || n/")
sqlite3 "$big" "WITH RECURSIVE k(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM k WHERE n < 312)
  INSERT INTO metamers ($cols) SELECT $sel FROM metamers, k;"
count=$(sqlite3 "$big" "SELECT count(*) FROM metamers")
t0=$(now)
"$bin" merge "$work/big-out.db" "$big" >"$work/big.log"
t1=$(now)
"$bin" merge "$work/big-out.db" "$big" >"$work/big2.log"
t2=$(now)
echo
echo "merge of one database of $count metamers into a new one: $(secs "$t0" "$t1") s; merging it again (nothing added): $(secs "$t1" "$t2") s"
echo "(program start-up included; iterations $iters x rounds $rounds; $(nproc) cores, load $(cut -d' ' -f1 /proc/loadavg))"
