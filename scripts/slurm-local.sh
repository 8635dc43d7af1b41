#!/usr/bin/env bash
# A single-node Slurm on this machine, for CI and for trying `ae-bench slurm` locally.
#   scripts/slurm-local.sh up     install (Debian packages), start munged/slurmctld/slurmd
#   scripts/slurm-local.sh down   stop exactly the daemons `up` started (by PID)
# As root, without systemd: every daemon runs in the foreground under `&`, so its PID is
# known; state, logs and spool live under $SLURM_LOCAL_DIR (default /tmp/ae-bench-slurm).
# After `up`, `. $SLURM_LOCAL_DIR/env.sh` sets SLURM_CONF for sbatch/squeue/scancel.
set -euo pipefail
B=${SLURM_LOCAL_DIR:-/tmp/ae-bench-slurm}

down() {
  # Reverse order: the node daemon, the controller, then the authentication daemon.
  for d in slurmd slurmctld munged; do
    f="$B/run/$d.bgpid"
    [ -f "$f" ] || continue
    p=$(cat "$f")
    if kill -TERM "$p" 2>/dev/null; then
      for _ in $(seq 100); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
      kill -0 "$p" 2>/dev/null && kill -KILL "$p" 2>/dev/null || true
    fi
    rm -f "$f"
  done
  echo "slurm down"
}

up() {
  if ! command -v slurmctld >/dev/null || ! command -v munged >/dev/null || ! command -v sbatch >/dev/null; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends slurmctld slurmd slurm-client munge >/dev/null
  fi
  # A previous `up` of ours that was never brought down: stop it first.
  down >/dev/null
  mkdir -p "$B"/{state/ctld,state/d,run,log,munge}
  chmod 755 "$B/munge" # munged wants its socket folder world-searchable
  [ -f "$B/munge/munge.key" ] || mungekey --create --keyfile="$B/munge/munge.key"
  chmod 400 "$B/munge/munge.key"
  local cpus mem
  cpus=$(nproc)
  mem=$(awk '/MemTotal/{print int($2/1024*0.9)}' /proc/meminfo)
  cat >"$B/slurm.conf" <<CONF
ClusterName=ae-bench-local
SlurmctldHost=localhost
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$B/munge/munge.socket
SlurmUser=root
SlurmdUser=root
SlurmctldPort=6817
SlurmdPort=6818
StateSaveLocation=$B/state/ctld
SlurmdSpoolDir=$B/state/d
SlurmctldPidFile=$B/run/slurmctld.pid
SlurmdPidFile=$B/run/slurmd.pid
SlurmctldLogFile=$B/log/slurmctld.log
SlurmdLogFile=$B/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
SchedulerType=sched/backfill
SchedulerParameters=batch_sched_delay=0
# Finished jobs stay visible to scontrol for 5 minutes (there is no accounting database).
MinJobAge=300
KillWait=10
MpiDefault=none
MailProg=/bin/true
ReturnToService=2
NodeName=localhost CPUs=$cpus RealMemory=$mem State=UNKNOWN
PartitionName=debug Nodes=localhost Default=YES MaxTime=INFINITE State=UP
CONF
  export SLURM_CONF=$B/slurm.conf
  /usr/sbin/munged -F --socket="$B/munge/munge.socket" --key-file="$B/munge/munge.key" \
    --pid-file="$B/run/munged.pid" --seed-file="$B/munge/munged.seed" \
    >"$B/log/munged.log" 2>&1 &
  echo $! >"$B/run/munged.bgpid"
  for _ in $(seq 50); do [ -S "$B/munge/munge.socket" ] && break; sleep 0.1; done
  /usr/sbin/slurmctld -D -i -f "$SLURM_CONF" >"$B/log/slurmctld.out" 2>&1 &
  echo $! >"$B/run/slurmctld.bgpid"
  /usr/sbin/slurmd -D -N localhost -f "$SLURM_CONF" >"$B/log/slurmd.out" 2>&1 &
  echo $! >"$B/run/slurmd.bgpid"
  local st=""
  for _ in $(seq 150); do
    st=$(sinfo -h -n localhost -o %t 2>/dev/null || true)
    [ "$st" = idle ] && break
    sleep 0.2
  done
  if [ "$st" != idle ]; then
    echo "slurm did not come up (node state '$st'); logs:" >&2
    tail -20 "$B"/log/*.log "$B"/log/*.out >&2 || true
    down
    exit 1
  fi
  echo "export SLURM_CONF=$SLURM_CONF" >"$B/env.sh"
  echo "slurm up: node localhost idle ($cpus CPUs); . $B/env.sh"
}

case "${1:-}" in
  up) up ;;
  down) down ;;
  *) echo "usage: $0 up|down" >&2; exit 2 ;;
esac
