#!/usr/bin/env bash
# A real single-node SLURM cluster on this machine, for the tests, for CI, and for trying the SLURM
# path on a laptop (Debian/Ubuntu, run as root or through sudo).
#
#   cera/cluster/local_slurm.sh up       install (once), configure and start; waits until the node is idle
#   cera/cluster/local_slurm.sh status   sinfo + squeue, exit 1 when the cluster is not up
#   cera/cluster/local_slurm.sh down     stop slurmd, slurmctld and munged (packages and config stay)
#
# `up` is idempotent: when the node already answers, it does nothing. The node is `localhost` with
# this machine's CPUs and memory (from `slurmd -C`) in one default partition `local`. No cgroups
# (proctrack/linuxproc, task/none) so it also runs in containers; no accounting (sacct warns, as
# expected). The config is written to $SLURM_CONF_DIR (default /etc/slurm), so a real site config
# is never touched unless it lives there too: `up` refuses to overwrite a slurm.conf it did not write.
set -euo pipefail

CONF_DIR=${SLURM_CONF_DIR:-/etc/slurm}
CONF=$CONF_DIR/slurm.conf
STATE=/var/lib/slurm-local          # slurmctld state + slurmd spool
LOGS=/var/log/slurm-local
MARK="# written by cera/cluster/local_slurm.sh"
PKGS=(slurmctld slurmd slurm-client munge)
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO=sudo

say() { echo "local_slurm: $*"; }

running() { [ -s "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }

node_up() { sinfo -h -n localhost -o %T 2>/dev/null | grep -qE '^(idle|mixed|allocated|completing)'; }

install_packages() {
  command -v slurmctld >/dev/null && command -v slurmd >/dev/null && command -v sinfo >/dev/null \
    && command -v munged >/dev/null && return
  say "installing ${PKGS[*]} (apt-get)"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${PKGS[@]}" >/dev/null
}

start_munge() {
  if [ ! -s /etc/munge/munge.key ]; then
    say "creating the munge key"
    $SUDO mungekey --create --keyfile /etc/munge/munge.key 2>/dev/null \
      || $SUDO dd if=/dev/urandom of=/etc/munge/munge.key bs=1024 count=1 status=none
  fi
  $SUDO chown munge:munge /etc/munge/munge.key && $SUDO chmod 400 /etc/munge/munge.key
  $SUDO install -d -o munge -g munge -m 0755 /run/munge /var/log/munge /var/lib/munge
  if ! munge -n 2>/dev/null | unmunge >/dev/null 2>&1; then
    $SUDO runuser -u munge -- /usr/sbin/munged
    for _ in $(seq 20); do munge -n 2>/dev/null | unmunge >/dev/null 2>&1 && break; sleep 0.5; done
  fi
  munge -n | unmunge >/dev/null || { say "munged did not start (see /var/log/munge/munged.log)"; exit 1; }
}

write_conf() {
  if [ -f "$CONF" ] && ! grep -qF "$MARK" "$CONF"; then
    say "$CONF exists and was not written by this script; refusing to overwrite it"; exit 1
  fi
  # this machine's CPUs, sockets, cores, threads and memory, as slurmd itself detects them
  local node
  node=$(slurmd -C | head -1 | sed -E 's/^NodeName=[^ ]+/NodeName=localhost/; s/ UpTime=.*//')
  $SUDO install -d "$CONF_DIR" "$STATE/ctld" "$STATE/d" "$LOGS"
  $SUDO tee "$CONF" >/dev/null <<EOF
$MARK ($(date -u +%FT%TZ))
ClusterName=cera-local
SlurmctldHost=localhost
SlurmUser=root
AuthType=auth/munge
StateSaveLocation=$STATE/ctld
SlurmdSpoolDir=$STATE/d
SlurmctldPidFile=/run/slurmctld.pid
SlurmdPidFile=/run/slurmd.pid
SlurmctldLogFile=$LOGS/slurmctld.log
SlurmdLogFile=$LOGS/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/none
MpiDefault=none
ReturnToService=2
SchedulerType=sched/backfill
SchedulerParameters=sched_interval=1
# requeued jobs (preemption tests) may start again at once
JobRequeue=1
MinJobAge=300
$node State=UNKNOWN
PartitionName=local Nodes=localhost Default=YES MaxTime=INFINITE State=UP
EOF
}

start_daemons() {
  running /run/slurmctld.pid || $SUDO slurmctld
  for _ in $(seq 30); do scontrol ping >/dev/null 2>&1 && break; sleep 1; done
  running /run/slurmd.pid || $SUDO slurmd -N localhost
  for _ in $(seq 60); do
    node_up && return
    # a node left DOWN/DRAIN by an earlier stop comes back at once
    $SUDO scontrol update nodename=localhost state=resume >/dev/null 2>&1 || true
    sleep 1
  done
  say "the node did not become idle; logs in $LOGS"; sinfo || true; exit 1
}

up() {
  if node_up; then say "already up"; sinfo; return; fi
  install_packages
  start_munge
  write_conf
  start_daemons
  say "up"; sinfo
}

down() {
  # stop by the pid files the daemons wrote, never by process name
  local pidfile pid
  for pidfile in /run/slurmd.pid /run/slurmctld.pid /run/munge/munged.pid; do
    running "$pidfile" || continue
    pid=$(cat "$pidfile")
    $SUDO kill "$pid"
    for _ in $(seq 20); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
  done
  say "down"
}

status() {
  if node_up; then sinfo; squeue; else say "not running"; exit 1; fi
}

case "${1:-}" in
  up) up ;;
  down) down ;;
  status) status ;;
  *) echo "usage: $0 up|down|status" >&2; exit 2 ;;
esac
