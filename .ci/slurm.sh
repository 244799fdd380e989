#!/usr/bin/env bash
# A private single-node SLURM for CI: munge + slurmctld + slurmd with two fake GPUs (gres).
#
#   .ci/slurm.sh start DIR   install slurm-wlm and munge with apt-get if missing (root), write
#                            every config, key, socket, pid file, spool and log under DIR, start
#                            the daemons and wait until `sinfo` reports the node idle
#   .ci/slurm.sh stop DIR    cancel leftover jobs, stop the daemons by the pids in DIR's pid
#                            files (never by name) and remove the /etc/slurm/slurm.conf link
#
# /etc/slurm/slurm.conf must point at DIR/slurm.conf because the Snakemake SLURM plugin strips
# SLURM_CONF inside jobs; an existing file there that is not ours is never touched (start fails);
# a dangling or dead link left by an earlier killed run of this script is replaced.
set -euo pipefail

die() { echo "slurm.sh: $*" >&2; exit 1; }

[[ $# -eq 2 ]] || die "usage: $0 start|stop DIR"
ACTION=$1
DIR=$(realpath -m "$2")
CONF=$DIR/slurm.conf
ETC_CONF=/etc/slurm/slurm.conf

install_if_missing() {
    local missing=()
    for cmd in munged mungekey slurmctld slurmd sbatch; do
        command -v "$cmd" >/dev/null || missing+=("$cmd")
    done
    [[ ${#missing[@]} -eq 0 ]] && return
    [[ $(id -u) -eq 0 ]] || die "missing ${missing[*]}; install slurm-wlm and munge (needs root)"
    echo "slurm.sh: installing slurm-wlm and munge (missing: ${missing[*]})"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
        slurm-wlm munge >/dev/null
}

write_configs() {
    local cpus mem_mb
    cpus=$(nproc)
    mem_mb=$(awk '/MemTotal/ {printf "%d", $2 / 1024 * 0.8}' /proc/meminfo)
    mkdir -p "$DIR"/{munge,spool/ctld,spool/d,log,run,gpu}
    chmod 755 "$DIR"
    touch "$DIR"/gpu/gpu0 "$DIR"/gpu/gpu1
    cat >"$CONF" <<EOF
ClusterName=fedmix-ci
SlurmctldHost=localhost
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$DIR/munge/munged.sock
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/none
MinJobAge=600
DefMemPerCPU=500
ReturnToService=2
StateSaveLocation=$DIR/spool/ctld
SlurmdSpoolDir=$DIR/spool/d
SlurmctldPidFile=$DIR/run/slurmctld.pid
SlurmdPidFile=$DIR/run/slurmd.pid
SlurmctldLogFile=$DIR/log/slurmctld.log
SlurmdLogFile=$DIR/log/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info
GresTypes=gpu
NodeName=localhost NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=$mem_mb Gres=gpu:2 State=UNKNOWN
PartitionName=debug Nodes=localhost Default=YES MaxTime=INFINITE State=UP
EOF
    echo "NodeName=localhost Name=gpu File=$DIR/gpu/gpu[0-1]" >"$DIR/gres.conf"
}

start_munge() {
    local m=$DIR/munge
    mungekey --create --keyfile="$m/munge.key" --force >/dev/null
    chown -R munge:munge "$m"
    chmod 711 "$m"  # clients (sbatch, slurmd) reach the socket; the key stays private
    chmod 400 "$m/munge.key"
    runuser -u munge -- munged --socket="$m/munged.sock" --key-file="$m/munge.key" \
        --pid-file="$m/munged.pid" --log-file="$m/munged.log" --seed-file="$m/munged.seed"
}

# A link left by an earlier run of this script that was killed before its cleanup (its folder is
# named fedmix-slurm.* and no slurmctld of that folder is alive) is stale, not a real config.
is_stale_link_of_ours() {
    [[ -L $ETC_CONF ]] || return 1
    local target old_dir pid
    target=$(readlink "$ETC_CONF")
    [[ $target == */fedmix-slurm.*/slurm.conf ]] || return 1
    old_dir=${target%/slurm.conf}
    pid=$(cat "$old_dir/run/slurmctld.pid" 2>/dev/null || true)
    # alive means: that pid runs and is a slurmctld (a pid file can outlive its process)
    [[ -z $pid || $(cat "/proc/$pid/comm" 2>/dev/null) != slurmctld ]]
}

link_etc_conf() {
    mkdir -p /etc/slurm
    if [[ -e $ETC_CONF || -L $ETC_CONF ]]; then
        if is_stale_link_of_ours; then
            echo "slurm.sh: replacing the stale link $ETC_CONF -> $(readlink "$ETC_CONF")" \
                "(left by an earlier run whose SLURM is no longer running)"
        elif ! [[ -L $ETC_CONF && $(readlink "$ETC_CONF") == "$DIR"/* ]]; then
            die "$ETC_CONF exists and is not ours ($(ls -ld "$ETC_CONF")); refusing to replace" \
                "a real SLURM config: move it aside or run the SLURM test elsewhere"
        fi
    fi
    ln -sfn "$CONF" "$ETC_CONF"
}

wait_idle() {
    local state=""
    for _ in $(seq 1 60); do
        state=$(SLURM_CONF=$CONF sinfo -h -o %T 2>/dev/null || true)
        [[ $state == idle ]] && return 0
        sleep 0.5
    done
    echo "slurm.sh: node state '$state' after 30 s; logs:" >&2
    tail -n 20 "$DIR"/log/*.log "$DIR"/munge/munged.log >&2 || true
    return 1
}

start() {
    [[ ! -e $DIR/run/slurmctld.pid ]] || die "$DIR already holds a running SLURM; stop it first"
    install_if_missing
    trap 'stop' ERR  # a failed start leaves no daemon behind
    write_configs
    link_etc_conf
    start_munge
    slurmctld -f "$CONF"
    slurmd -f "$CONF" -N localhost
    wait_idle || die "SLURM did not come up"
    trap - ERR
    echo "slurm.sh: single-node SLURM up (SLURM_CONF=$CONF, 2 fake GPUs, partition debug)"
}

stop_pidfile() {
    local file=$1 pid
    [[ -s $file ]] || return 0
    pid=$(<"$file")
    if kill -0 "$pid" 2>/dev/null; then
        kill -TERM "$pid"
        for _ in $(seq 1 40); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.25
        done
        kill -0 "$pid" 2>/dev/null && kill -KILL "$pid"
    fi
    rm -f "$file"
}

stop() {
    if [[ -s $DIR/run/slurmctld.pid ]]; then
        SLURM_CONF=$CONF scancel --user="$(id -un)" 2>/dev/null || true
    fi
    stop_pidfile "$DIR/run/slurmd.pid"
    stop_pidfile "$DIR/run/slurmctld.pid"
    stop_pidfile "$DIR/munge/munged.pid"
    if [[ -L $ETC_CONF && $(readlink "$ETC_CONF") == "$DIR"/* ]]; then
        rm -f "$ETC_CONF"
    fi
    echo "slurm.sh: stopped the SLURM in $DIR"
}

case $ACTION in
start) start ;;
stop) stop ;;
*) die "unknown action '$ACTION'; use start or stop" ;;
esac
