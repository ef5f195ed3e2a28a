# shellcheck shell=bash
# Throwaway one-node Slurm cluster for the training pool's Slurm backend.
#
# Source this file from bash; sourcing it starts a fresh cluster:
#
#     source tests/slurm.sh
#     trap flywheel_stop_slurm EXIT
#
# Afterwards FLYWHEEL_TEST_SLURM=1 is exported (the Slurm suite runs only
# then), `sbatch`, `squeue`, `sacct` and `scancel` talk to the new cluster,
# and `flywheel_stop_slurm` stops it and deletes its directory.
#
# Needs root (slurmd runs jobs as their users; munged runs as `munge`).
# Debian's `slurm-wlm` and `munge` are installed with apt-get when missing.
# The cluster: one node with this machine's CPUs and memory, slurmctld and
# slurmd with state, spool and logs under a temp dir, munge authentication
# with a generated key, no accounting database (sacct reads the job
# completion file instead), cons_tres selection so `--gres`/CPU requests
# are honoured.
#
# Sourcing returns non-zero (after printing why) if the cluster cannot be started.

_flywheel_slurm_dir=""

_flywheel_slurm_say() {
    echo "slurm.sh: $*" >&2
}

flywheel_stop_slurm() {
    if [[ -n "$_flywheel_slurm_dir" && -d "$_flywheel_slurm_dir" ]]; then
        pkill -f "slurmctld -f $_flywheel_slurm_dir" 2> /dev/null || true
        pkill -f "slurmd -f $_flywheel_slurm_dir" 2> /dev/null || true
        if [[ -f "$_flywheel_slurm_dir/munged.pid" ]]; then
            kill "$(cat "$_flywheel_slurm_dir/munged.pid")" 2> /dev/null || true
        fi
        sleep 0.5
        rm -rf "$_flywheel_slurm_dir"
    fi
    _flywheel_slurm_dir=""
    unset FLYWHEEL_TEST_SLURM SLURM_CONF
}

_flywheel_slurm_start() {
    if [[ "$(id -u)" -ne 0 ]]; then
        _flywheel_slurm_say "starting a Slurm cluster needs root; the Slurm suite is skipped"
        return 1
    fi
    if ! command -v slurmctld > /dev/null || ! command -v munged > /dev/null; then
        _flywheel_slurm_say "Slurm not found; installing Debian's slurm-wlm and munge"
        apt-get update -qq &&
            DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends slurm-wlm munge > /dev/null ||
            return 1
    fi
    _flywheel_slurm_dir="$(mktemp -d /tmp/flywheel-slurm.XXXXXX)"
    chmod 755 "$_flywheel_slurm_dir"
    local d="$_flywheel_slurm_dir"
    mkdir -p "$d/state" "$d/spool" "$d/munge" "$d/munge-run"
    chown munge:munge "$d/munge" "$d/munge-run"
    chmod 700 "$d/munge"
    chmod 755 "$d/munge-run"

    # munge: a fresh key, its socket in the cluster dir.
    dd if=/dev/urandom bs=1 count=1024 of="$d/munge/munge.key" status=none
    chown munge:munge "$d/munge/munge.key"
    chmod 400 "$d/munge/munge.key"
    runuser -u munge -- munged --key-file="$d/munge/munge.key" --socket="$d/munge-run/munge.socket" \
        --pid-file="$d/munge-run/munged.pid" --log-file="$d/munge/munged.log" --seed-file="$d/munge/seed" ||
        { _flywheel_slurm_say "munged did not start"; return 1; }
    cp "$d/munge-run/munged.pid" "$d/munged.pid"

    local host cpus mem
    host="$(hostname -s)"
    cpus="$(nproc)"
    mem="$(($(awk '/MemTotal/ {print $2}' /proc/meminfo) / 1024 - 1024))"
    cat > "$d/slurm.conf" << EOF
ClusterName=flywheel
SlurmctldHost=$host
SlurmUser=root
AuthType=auth/munge
AuthInfo=socket=$d/munge-run/munge.socket
CredType=cred/munge
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/filetxt
JobCompLoc=$d/jobcomp.log
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
SchedulerType=sched/backfill
StateSaveLocation=$d/state
SlurmdSpoolDir=$d/spool
SlurmctldPidFile=$d/slurmctld.pid
SlurmdPidFile=$d/slurmd.pid
SlurmctldLogFile=$d/slurmctld.log
SlurmdLogFile=$d/slurmd.log
SlurmctldPort=16817
SlurmdPort=16818
ReturnToService=2
MinJobAge=3600
NodeName=$host CPUs=$cpus RealMemory=$mem State=UNKNOWN
PartitionName=main Nodes=$host Default=YES MaxTime=INFINITE State=UP
EOF
    export SLURM_CONF="$d/slurm.conf"
    slurmctld -f "$d/slurm.conf" -i || { _flywheel_slurm_say "slurmctld did not start (see $d/slurmctld.log)"; return 1; }
    slurmd -f "$d/slurm.conf" || { _flywheel_slurm_say "slurmd did not start (see $d/slurmd.log)"; return 1; }
    local i
    for i in $(seq 1 50); do
        if sinfo -h -o '%t' 2> /dev/null | grep -qE '^(idle|mix|alloc)'; then
            export FLYWHEEL_TEST_SLURM=1
            echo "Slurm $(sinfo -V | awk '{print $2}') started: one node $host, $cpus CPUs ($d)"
            return 0
        fi
        sleep 0.2
    done
    _flywheel_slurm_say "the node did not come up: $(sinfo 2>&1 | tail -1) (see $d/slurmctld.log)"
    return 1
}

_flywheel_slurm_start
