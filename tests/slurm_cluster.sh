#!/usr/bin/env bash
# A private Slurm cluster on loopback for the Slurm backend's tests (after
# ../shared/tools/slurm-peer and ../shared/ENVIRONMENT.md): slurmctld plus NODES `slurmd -N
# nodeN`, each with GPUS fake GPUs (/dev/ttyN). Each GPU is its own GRES type (g0, g1, ...), so that
# a job can be pinned to the exact GPUs the engine chose: --gres=gpu:g2:1,gpu:g5:1. Partitions: `ai`
# (PriorityTier 10) preempts `mining` (PriorityTier 1, PreemptMode=CANCEL).
#
#   slurm_cluster.sh start DIR NODES GPUS CTLD_PORT NODE_PORT_BASE [PREFIX]
#                         (root; nodes PREFIX1..PREFIXN, PREFIX "node" by default; prints the conf)
#   slurm_cluster.sh stop DIR
#   slurm_cluster.sh node-down DIR NODE | node-up DIR NODE            (kill / restart one slurmd)
#
# Every client call needs SLURM_CONF=DIR/etc/slurm.conf. munged is started if none runs (and left
# running: it is shared, stateless, and cheap). Needs Debian's slurm-wlm slurmctld slurmd
# slurm-client munge (scripts/install-deps.sh).
set -euo pipefail
cmd=$1; S=$2
SBIN=/usr/sbin
CONF=$S/etc/slurm.conf
sc() { local t=$1; shift; SLURM_CONF=$CONF timeout "$t" "$@"; }
die() { echo "slurm_cluster: $*" >&2; exit 1; }
our_pids() { grep -laF -- "SLURM_CONF=$CONF" /proc/[0-9]*/environ 2>/dev/null | cut -d/ -f3 || true; }

start_munge() {
  if munge -n 2>/dev/null | unmunge >/dev/null 2>&1; then return; fi
  install -d -o munge -g munge -m 0755 /run/munge
  [ -s /etc/munge/munge.key ] || die "no /etc/munge/munge.key (reinstall munge)"
  runuser -u munge -- "$SBIN/munged" </dev/null >/dev/null 2>&1 || true
  for ((i = 0; i < 50; i++)); do munge -n 2>/dev/null | unmunge >/dev/null 2>&1 && return; sleep 0.1; done
  die "munged does not work"
}

start_node() {  # NODE
  SLURM_CONF=$CONF "$S/bin/slurmd" -N "$1" -d "$S/bin/slurmstepd" </dev/null >>"$S/log/daemon-stdio.log" 2>&1
}

case "$cmd" in
  start)
    NODES=$3; GPUS=$4; CTLD_PORT=$5; NODE_PORT_BASE=$6; PREFIX=${7:-node}
    [ "$(id -u)" = 0 ] || die "must run as root (slurmd runs jobs as root)"
    for b in slurmctld-wlm slurmd-wlm slurmstepd-wlm munged; do [ -x "$SBIN/$b" ] || die "missing $SBIN/$b: run scripts/install-deps.sh"; done
    [ -f "$CONF" ] && "$0" stop "$S" || true
    rm -rf "$S"; mkdir -p "$S"/{bin,etc,state,log,run}
    for ((n = 1; n <= NODES; n++)); do mkdir -p "$S/spool/$PREFIX$n"; done
    # Under any other name than these the daemons silently drop Gres= (ENVIRONMENT.md).
    ln -s "$SBIN/slurmctld-wlm" "$S/bin/slurmctld"
    ln -s "$SBIN/slurmd-wlm" "$S/bin/slurmd"
    ln -s "$SBIN/slurmstepd-wlm" "$S/bin/slurmstepd"
    gres=""; for ((g = 0; g < GPUS; g++)); do gres+="${gres:+,}gpu:g$g:1"; done
    last=$((NODE_PORT_BASE + NODES - 1))
    cat >"$CONF" <<CONF
ClusterName=rigshift-test
SlurmctldHost=localhost(127.0.0.1)
SlurmctldPort=$CTLD_PORT
SlurmdPort=$NODE_PORT_BASE
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CryptoType=crypto/munge
StateSaveLocation=$S/state
SlurmdSpoolDir=$S/spool/%n
SlurmctldPidFile=$S/run/slurmctld.pid
SlurmdPidFile=$S/run/slurmd-%n.pid
SlurmctldLogFile=$S/log/slurmctld.log
SlurmdLogFile=$S/log/slurmd-%n.log
SlurmctldDebug=info
SlurmdDebug=info
MailProg=/bin/true
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
MpiDefault=none
SwitchType=switch/none
SchedulerType=sched/backfill
SchedulerParameters=batch_sched_delay=0
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
GresTypes=gpu
PreemptType=preempt/partition_prio
PreemptMode=CANCEL
ReturnToService=2
SlurmdParameters=config_overrides
CommunicationParameters=NoInAddrAny
SlurmdTimeout=5
InactiveLimit=0
MinJobAge=2
KillWait=1
MaxJobCount=100000
NodeName=$PREFIX[1-$NODES] NodeHostname=$(hostname -s) NodeAddr=127.0.0.1 Port=[$NODE_PORT_BASE-$last] CPUs=$((GPUS * 2)) RealMemory=16000 Gres=$gres State=UNKNOWN
PartitionName=ai     Nodes=$PREFIX[1-$NODES] PriorityTier=10 PreemptMode=OFF    MaxTime=INFINITE State=UP
PartitionName=mining Nodes=$PREFIX[1-$NODES] PriorityTier=1  PreemptMode=CANCEL Default=YES MaxTime=INFINITE State=UP
CONF
    : >"$S/etc/gres.conf"
    for ((g = 0; g < GPUS; g++)); do echo "NodeName=$PREFIX[1-$NODES] Name=gpu Type=g$g File=/dev/tty$g" >>"$S/etc/gres.conf"; done
    start_munge
    SLURM_CONF=$CONF "$S/bin/slurmctld" -i </dev/null >>"$S/log/daemon-stdio.log" 2>&1
    for ((n = 1; n <= NODES; n++)); do start_node "$PREFIX$n"; done
    for ((i = 0; i < 300; i++)); do
      [ "$(sc 5 sinfo -h -p ai -o '%D %t' 2>/dev/null)" = "$NODES idle" ] && { echo "$CONF"; exit 0; }
      sleep 0.1
    done
    sc 5 sinfo -N >&2 || true; tail -20 "$S/log/slurmctld.log" >&2
    die "nodes not idle after 30 s"
    ;;
  node-down)
    pid=$(cat "$S/run/slurmd-$3.pid")
    kill -KILL "$pid"
    ;;
  node-up)
    start_node "$3"
    ;;
  stop)
    [ -f "$CONF" ] || { rm -rf "$S"; exit 0; }
    if [ -f "$S/run/slurmctld.pid" ]; then
      sc 10 scancel --full -p ai >/dev/null 2>&1 || true
      sc 10 scancel --full -p mining >/dev/null 2>&1 || true
      sc 10 scontrol shutdown >/dev/null 2>&1 || true
    fi
    for ((i = 0; i < 50; i++)); do [ -z "$(our_pids)" ] && break; sleep 0.1; done
    rest=$(our_pids); [ -n "$rest" ] && kill -KILL $rest 2>/dev/null || true
    rm -rf "$S"
    ;;
  *) die "usage: $0 start DIR NODES GPUS CTLD_PORT NODE_PORT_BASE | stop DIR | node-down DIR NODE | node-up DIR NODE" ;;
esac
