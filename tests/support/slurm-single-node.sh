#!/bin/sh
# tests/support/slurm-single-node.sh: a private single-node Slurm for the cluster tests
# (tests/cli/cluster_slurm_test.cpp), from Debian's packages slurmctld, slurmd, slurm-client
# and munge (tools/setup.sh installs them; installing starts no service).
#
#   slurm-single-node.sh start DIR   writes DIR/slurm.conf, starts munged (unless one already
#                                    answers), slurmctld and `slurmd -N localhost`, and waits
#                                    until sinfo shows the node idle. Clients then need
#                                    SLURM_CONF=DIR/slurm.conf.
#   slurm-single-node.sh stop DIR    stops the daemons start started (by their pid files).
#
# Runs as root (through sudo -n when not root); jobs run as the user who submits them. Ports 16817/16818, so a system Slurm
# on the default ports is not disturbed. Exit 0 when ready; otherwise one line on stderr,
# the daemons' logs in DIR, exit 1.
set -u
action=${1:-}
dir=${2:-}
[ -n "$action" ] && [ -n "$dir" ] || { echo "usage: $0 start|stop DIR" >&2; exit 2; }
mkdir -p "$dir" || exit 1
dir=$(cd "$dir" && pwd)

stop_pid() {  # $1: pid file; TERM, then KILL after 10 s
  [ -s "$1" ] || return 0
  pid=$(cat "$1")
  if kill -0 "$pid" 2>/dev/null; then
    kill "$pid" 2>/dev/null
    i=0
    while kill -0 "$pid" 2>/dev/null && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
    kill -9 "$pid" 2>/dev/null
  fi
  rm -f "$1"
}

if [ "$action" = stop ]; then
  if [ "$(id -u)" -ne 0 ] && sudo -n true 2>/dev/null; then exec sudo -n "$0" "$@"; fi
  stop_pid "$dir/slurmd.pid"
  stop_pid "$dir/slurmctld.pid"
  stop_pid "$dir/munged.pid"  # only when start started it
  exit 0
fi
[ "$action" = start ] || { echo "usage: $0 start|stop DIR" >&2; exit 2; }

fail() { echo "slurm-single-node: $*" >&2; exit 1; }
if [ "$(id -u)" -ne 0 ]; then  # the daemons need root: sudo without a password, or fail
  sudo -n true 2>/dev/null && exec sudo -n "$0" "$@"
  fail "must run as root, or with sudo without a password (slurmd runs the jobs)"
fi
for t in munged munge slurmctld slurmd sinfo sbatch squeue; do
  command -v "$t" >/dev/null 2>&1 || [ -x "/usr/sbin/$t" ] || fail "$t not found (Debian packages munge slurmctld slurmd slurm-client; tools/setup.sh installs them)"
done
PATH=$PATH:/usr/sbin

# munge: the package made /etc/munge/munge.key; munged runs as the munge user.
if ! munge -n 2>/dev/null | unmunge >/dev/null 2>&1; then
  mkdir -p /run/munge && chown munge:munge /run/munge && chmod 0755 /run/munge
  # its log and pid file where the munge user may write (DIR may be private to root)
  rm -f /run/munge/munged-test.pid
  runuser -u munge -- munged --pid-file=/run/munge/munged-test.pid --log-file=/run/munge/munged-test.log ||
    fail "munged did not start: $(tail -1 /run/munge/munged-test.log 2>/dev/null)"
  i=0
  until munge -n 2>/dev/null | unmunge >/dev/null 2>&1; do
    i=$((i + 1)); [ $i -lt 100 ] || fail "munged does not answer: $(tail -1 /run/munge/munged-test.log 2>/dev/null)"; sleep 0.1
  done
  cp /run/munge/munged-test.pid "$dir/munged.pid"
fi

mkdir -p "$dir/state" "$dir/spool"
cpus=$(nproc)
cat >"$dir/slurm.conf" <<EOF
# written by tests/support/slurm-single-node.sh
ClusterName=metamerlab-test
SlurmctldHost=localhost
SlurmctldPort=16817
SlurmdPort=16818
SlurmUser=root
AuthType=auth/munge
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool
SlurmctldPidFile=$dir/slurmctld.pid
SlurmdPidFile=$dir/slurmd.pid
SlurmctldLogFile=$dir/slurmctld.log
SlurmdLogFile=$dir/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
SchedulerType=sched/backfill
MpiDefault=none
ReturnToService=2
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
SchedulerParameters=sched_interval=2
NodeName=localhost CPUs=$cpus State=UNKNOWN
PartitionName=debug Nodes=localhost Default=YES MaxTime=INFINITE State=UP
EOF
export SLURM_CONF="$dir/slurm.conf"
slurmctld -c -f "$SLURM_CONF" || fail "slurmctld did not start (see $dir/slurmctld.log)"
slurmd -N localhost -f "$SLURM_CONF" || fail "slurmd did not start (see $dir/slurmd.log)"
i=0
until [ "$(sinfo -h -n localhost -o %T 2>/dev/null)" = idle ]; do
  i=$((i + 1)); [ $i -lt 300 ] || fail "the node is not idle after 60 s: $(sinfo -h -o '%T %E' 2>&1 | head -1) (see $dir/slurmctld.log, $dir/slurmd.log)"
  sleep 0.2
done
exit 0
