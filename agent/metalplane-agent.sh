#!/bin/sh
# metalplane registration agent.
#
# Runs inside the registration image (busybox-class initramfs, no Node.js): collects the machine's
# raw facts (files from /proc and /sys, symlink targets, outputs of a few optional commands), POSTs
# them to <metalplane.url>/api/v1/enroll in the `metalplane-raw-facts/v1` wire format (see
# core/src/inventory/raw-facts.ts), prints one line on the console and then powers off, reboots or
# waits, as the server's answer (or the kernel command line) says. It interprets nothing: the
# server parses the facts, so the parser can be fixed without touching the image.
#
# POSIX sh only (busybox ash, dash); needs cat/tr/sed/awk/readlink and wget (busybox or GNU) or
# curl; uses timeout, nc, lspci, lsblk, dmidecode, ip when present. See README.md for the kernel
# parameters, the environment overrides and the exit codes.

AGENT_VERSION=0.1.0
RAW_FACTS_FORMAT=metalplane-raw-facts/v1
MAX_ERRORS=500

log() { printf 'metalplane: %s\n' "$1" >&2; }

# The one line for the operator: stdout, and the console when that is not where stdout goes already.
say() {
  printf '%s\n' "$1"
  if [ -n "$CONSOLE" ] && [ -w "$CONSOLE" ]; then
    if [ "$(readlink "/proc/$$/fd/1" 2>/dev/null)" != "$CONSOLE" ]; then
      { printf '%s\n' "$1" >"$CONSOLE"; } 2>/dev/null
    fi
  fi
}

is_uint() { case $1 in '' | *[!0-9]*) return 1 ;; *) return 0 ;; esac; }

valid_action() { case $1 in poweroff | reboot | wait) return 0 ;; *) return 1 ;; esac; }

# First line of a file (e.g. a command's stderr), without forking.
first_line() {
  fl_line=
  if [ -r "$1" ]; then IFS= read -r fl_line <"$1" || :; fi
  printf '%s' "$fl_line"
}

# ---------------------------------------------------------------------------------------------
# Settings: kernel command line (metalplane.KEY=VALUE), overridden by METALPLANE_KEY variables.
# ---------------------------------------------------------------------------------------------

read_settings() {
  ROOT=${METALPLANE_ROOT:-}
  ROOT=${ROOT%/}
  CL_URL='' CL_TOKEN='' CL_ACTION='' CL_FAILURE_ACTION='' CL_RETRIES='' CL_BACKOFF_BASE=''
  if [ -r "$ROOT/proc/cmdline" ]; then
    # Splits the command line like the kernel does (double quotes group words) and keeps the
    # metalplane.* parameters, one `key=value` a line.
    rs_params=$(tr -d '\000' <"$ROOT/proc/cmdline" 2>/dev/null | awk '
      function emit(w) { if (substr(w, 1, 11) == "metalplane." && index(w, "=") > 0) print w }
      {
        line = $0; word = ""; q = 0; n = length(line)
        for (i = 1; i <= n; i++) {
          c = substr(line, i, 1)
          if (c == "\"") { q = !q; continue }
          if (!q && (c == " " || c == "\t")) { emit(word); word = ""; continue }
          word = word c
        }
        emit(word)
      }')
    while IFS= read -r rs_kv; do
      rs_v=${rs_kv#*=}
      case $rs_kv in
        metalplane.url=*) CL_URL=$rs_v ;;
        metalplane.token=*) CL_TOKEN=$rs_v ;;
        metalplane.action=*) CL_ACTION=$rs_v ;;
        metalplane.failure_action=*) CL_FAILURE_ACTION=$rs_v ;;
        metalplane.retries=*) CL_RETRIES=$rs_v ;;
        metalplane.backoff_base=*) CL_BACKOFF_BASE=$rs_v ;;
      esac
    done <<EOF
$rs_params
EOF
  fi

  URL=${METALPLANE_URL:-$CL_URL}
  TOKEN=${METALPLANE_TOKEN:-$CL_TOKEN}
  ACTION=${METALPLANE_ACTION:-$CL_ACTION}
  FAILURE_ACTION=${METALPLANE_FAILURE_ACTION:-$CL_FAILURE_ACTION}
  RETRIES=${METALPLANE_RETRIES:-${CL_RETRIES:-30}}
  BACKOFF_BASE=${METALPLANE_BACKOFF_BASE:-${CL_BACKOFF_BASE:-2}}
  DRY_RUN=${METALPLANE_DRY_RUN:-}
  NO_POWER=${METALPLANE_NO_POWER:-}
  CONSOLE=${METALPLANE_CONSOLE-/dev/console}
  HTTP_CLIENT=${METALPLANE_HTTP_CLIENT:-}

  if [ -n "$ACTION" ] && ! valid_action "$ACTION"; then
    log "ignoring metalplane.action=$ACTION (expected poweroff, reboot or wait)"
    ACTION=
  fi
  if [ -n "$FAILURE_ACTION" ] && ! valid_action "$FAILURE_ACTION"; then
    log "ignoring metalplane.failure_action=$FAILURE_ACTION (expected poweroff, reboot or wait)"
    FAILURE_ACTION=
  fi
  # After a failure: failure_action, else an explicitly configured action, else wait (the console
  # keeps showing the failure). After a success: the server's action, else the configured one,
  # else poweroff.
  FAILURE_ACTION=${FAILURE_ACTION:-${ACTION:-wait}}
  ACTION=${ACTION:-poweroff}
  if ! is_uint "$RETRIES" || [ "$RETRIES" -lt 1 ]; then
    log "ignoring retries=$RETRIES (expected a positive integer); using 30"
    RETRIES=30
  fi
  [ "$RETRIES" -gt 10000 ] && RETRIES=10000
  if ! is_uint "$BACKOFF_BASE"; then
    log "ignoring backoff_base=$BACKOFF_BASE (expected an integer); using 2"
    BACKOFF_BASE=2
  fi
  [ "$BACKOFF_BASE" -gt 30 ] && BACKOFF_BASE=30
  [ "$DRY_RUN" = 0 ] && DRY_RUN=
  [ "$NO_POWER" = 0 ] && NO_POWER=
  return 0
}

# ---------------------------------------------------------------------------------------------
# Work directory, timeouts
# ---------------------------------------------------------------------------------------------

make_workdir() {
  umask 077
  for mw_dir in "${TMPDIR:-/tmp}" /tmp /run /dev/shm /var/tmp; do
    if [ ! -d "$mw_dir" ] || [ ! -w "$mw_dir" ]; then continue; fi
    W=$(mktemp -d "$mw_dir/metalplane.XXXXXX" 2>/dev/null) && return 0
    W=$mw_dir/metalplane.$$
    mkdir "$W" 2>/dev/null && return 0
  done
  W=
  return 1
}

cleanup() {
  if [ -n "$W" ]; then rm -rf "$W"; fi
  W=
}

# `timeout SECS PROG` (busybox >= 1.30 and coreutils) or `timeout -t SECS PROG` (older busybox).
detect_timeout() {
  TIMEOUT_STYLE=
  command -v timeout >/dev/null 2>&1 || return 0
  if timeout 5 true >/dev/null 2>&1; then
    TIMEOUT_STYLE=plain
  elif timeout -t 5 true >/dev/null 2>&1; then
    TIMEOUT_STYLE=t
  fi
  return 0
}

run_limited() {
  rl_secs=$1
  shift
  case $TIMEOUT_STYLE in
    plain) timeout "$rl_secs" "$@" ;;
    t) timeout -t "$rl_secs" "$@" ;;
    *) "$@" ;;
  esac
}

# ---------------------------------------------------------------------------------------------
# Collection. Every fact is appended as a record to a spool, one spool per section:
#   <MARK> <section> <key>\n<content>\n<MARK>-end\n      (or <MARK>-abort: drop the record)
# where MARK starts with \001 and carries a random part, so no content line can be taken for a
# marker. The awk program in build_json turns the spools into the JSON document in one pass.
# Sections: 0 agent, 1 files, 2 links, 3 commands, 4 errors.
# ---------------------------------------------------------------------------------------------

open_spools() {
  mo_rand=
  if [ -r /proc/sys/kernel/random/uuid ]; then IFS= read -r mo_rand </proc/sys/kernel/random/uuid || :; fi
  [ -n "$mo_rand" ] || mo_rand=$(date +%s 2>/dev/null)
  MARK="$(printf '\001')metalplane-record-$$-$mo_rand"
  MARK_END="$MARK-end"
  MARK_ABORT="$MARK-abort"
  ERRORS=0
  : >"$W/s0" && : >"$W/s1" && : >"$W/s2" && : >"$W/s3" && : >"$W/s4" || return 1
  exec 3>>"$W/s0" 4>>"$W/s1" 5>>"$W/s2" 6>>"$W/s3" 7>>"$W/s4"
}

close_spools() { exec 3>&- 4>&- 5>&- 6>&- 7>&-; }

# rec_str SECTION KEY VALUE: a record whose content is a string, on stdout.
rec_str() {
  printf '%s %s %s\n%s\n%s\n' "$MARK" "$1" "$2" "$3" "$MARK_END"
}

add_error() {
  ERRORS=$((ERRORS + 1))
  if [ "$ERRORS" -le "$MAX_ERRORS" ]; then
    rec_str 4 - "$1" >&7
  elif [ "$ERRORS" -eq $((MAX_ERRORS + 1)) ]; then
    rec_str 4 - "further errors omitted" >&7
  fi
}

# add_file PATH [required]: the content of $ROOT$PATH under the key PATH, NUL bytes removed. A
# missing file is skipped (reported when required); one that cannot be read is reported.
add_file() {
  af_src=$ROOT$1
  if [ ! -e "$af_src" ]; then
    if [ "$2" = required ]; then add_error "$1: no such file"; fi
    return 0
  fi
  [ -f "$af_src" ] || return 0
  printf '%s 1 %s\n' "$MARK" "$1" >&4
  # 2> before <, so that the shell's own "cannot open" message lands in the error file too.
  if tr -d '\000' 2>"$W/err" <"$af_src" >&4; then
    printf '\n%s\n' "$MARK_END" >&4
  else
    printf '\n%s\n' "$MARK_ABORT" >&4
    # The kernel answers EINVAL for the speed and carrier of a link that is down or
    # virtual: that is "no value", not something for an operator to read about.
    case "$1:$(first_line "$W/err")" in
      /sys/class/net/*/speed:*"Invalid argument"* | /sys/class/net/*/carrier:*"Invalid argument"*) ;;
      *) add_error "read $1: $(first_line "$W/err")" ;;
    esac
  fi
}

# The kernel command line without the enrollment token (the facts are stored by the server).
add_cmdline() {
  ac_src=$ROOT/proc/cmdline
  if [ ! -e "$ac_src" ]; then
    add_error "/proc/cmdline: no such file"
    return 0
  fi
  if tr -d '\000' 2>"$W/err" <"$ac_src" >"$W/cmdline"; then
    printf '%s 1 %s\n' "$MARK" /proc/cmdline >&4
    sed -e 's/metalplane\.token="[^"]*"/metalplane.token=<redacted>/g' \
      -e 's/metalplane\.token=[^ "]*/metalplane.token=<redacted>/g' "$W/cmdline" >&4
    printf '\n%s\n' "$MARK_END" >&4
  else
    add_error "read /proc/cmdline: $(first_line "$W/err")"
  fi
}

# add_link PATH: what readlink says about $ROOT$PATH, when it is a symlink.
add_link() {
  al_src=$ROOT$1
  [ -L "$al_src" ] || return 0
  if al_target=$(readlink "$al_src" 2>"$W/err"); then
    rec_str 2 "$1" "$al_target" >&5
  else
    add_error "readlink $1: $(first_line "$W/err")"
  fi
}

# add_command 'PROG ARGS...': PROG's stdout when PROG exists and succeeds (words split on spaces).
add_command() {
  ac_prog=${1%% *}
  command -v "$ac_prog" >/dev/null 2>&1 || return 0
  set -f
  # shellcheck disable=SC2086 # the command line is split into words on purpose
  run_limited 60 $1 </dev/null >"$W/out" 2>"$W/err"
  ac_rc=$?
  set +f
  if [ "$ac_rc" -eq 0 ]; then
    printf '%s 3 %s\n' "$MARK" "$1" >&6
    tr -d '\000' <"$W/out" >&6
    printf '\n%s\n' "$MARK_END" >&6
  else
    ac_msg=$(first_line "$W/err")
    add_error "command '$1' exited with status $ac_rc${ac_msg:+: $ac_msg}"
  fi
}

collect() {
  ch_name=
  if [ -r "$ROOT/proc/sys/kernel/hostname" ]; then
    IFS= read -r ch_name <"$ROOT/proc/sys/kernel/hostname" 2>/dev/null || :
  fi
  case $ch_name in '' | '(none)') ;; *) rec_str 0 hostname "$ch_name" >&3 ;; esac

  add_file /proc/cpuinfo required
  add_file /proc/meminfo required
  add_cmdline
  add_file /proc/device-tree/model
  add_file /proc/device-tree/serial-number
  add_file /sys/devices/system/cpu/cpu0/cpufreq/cpuinfo_max_freq
  add_file /sys/firmware/efi/fw_platform_size

  for c_path in "$ROOT"/sys/devices/system/node/node*; do
    [ -d "$c_path" ] || continue
    c_key=/sys/devices/system/node/${c_path##*/}
    add_file "$c_key/cpulist"
    add_file "$c_key/meminfo"
  done

  for c_path in "$ROOT"/sys/kernel/mm/hugepages/*; do
    [ -d "$c_path" ] || continue
    add_file "/sys/kernel/mm/hugepages/${c_path##*/}/nr_hugepages"
  done

  for c_path in "$ROOT"/sys/class/dmi/id/*; do
    if [ ! -f "$c_path" ] || [ -L "$c_path" ]; then continue; fi
    case ${c_path##*/} in modalias | uevent) continue ;; esac
    add_file "/sys/class/dmi/id/${c_path##*/}"
  done

  for c_path in "$ROOT"/sys/class/net/*; do
    [ -e "$c_path" ] || continue
    c_key=/sys/class/net/${c_path##*/}
    add_link "$c_key"
    for c_attr in address speed operstate carrier type mtu \
      device/sriov_totalvfs device/sriov_numvfs device/numa_node; do
      add_file "$c_key/$c_attr"
    done
    add_link "$c_key/device"
    add_link "$c_key/device/driver"
  done

  for c_path in "$ROOT"/sys/block/*; do
    [ -e "$c_path" ] || continue
    c_key=/sys/block/${c_path##*/}
    add_link "$c_key"
    for c_attr in size removable queue/rotational device/model device/serial device/vendor \
      device/wwid wwid serial; do
      add_file "$c_key/$c_attr"
    done
    add_link "$c_key/device"
  done

  # PCI functions, so that GPUs and NICs are identified without lspci (busybox has none).
  for c_path in "$ROOT"/sys/bus/pci/devices/*; do
    [ -e "$c_path" ] || continue
    c_key=/sys/bus/pci/devices/${c_path##*/}
    add_file "$c_key/class"
    add_file "$c_key/vendor"
    add_file "$c_key/device"
    add_link "$c_key/driver"
  done

  add_command 'lspci -nn'
  add_command 'lsblk -b -d -n -o NAME,SIZE,ROTA,TYPE,MODEL,SERIAL,WWN'
  add_command 'dmidecode -t system -t baseboard -t chassis'
  add_command 'ip -o link'
  return 0
}

# One awk pass over the spools -> the JSON document on stdout. Escapes backslash, quote and every
# control character; bytes >= 0x80 pass through (LC_ALL=C: awk works on bytes).
build_json() {
  LC_ALL=C awk -v mark="$MARK" -v version="$AGENT_VERSION" -v format="$RAW_FACTS_FORMAT" '
    function rep(s, find, with,   out, i, fl) {
      out = ""; fl = length(find)
      while ((i = index(s, find)) > 0) { out = out substr(s, 1, i - 1) with; s = substr(s, i + fl) }
      return out s
    }
    function ctlesc(s,   out, i, n, c) {
      out = ""; n = length(s)
      for (i = 1; i <= n; i++) { c = substr(s, i, 1); out = out ((c in ctl) ? ctl[c] : c) }
      return out
    }
    function esc(s) {
      if (index(s, "\\") > 0) s = rep(s, "\\", "\\\\")
      if (index(s, "\"") > 0) s = rep(s, "\"", "\\\"")
      if (index(s, "\t") > 0) s = rep(s, "\t", "\\t")
      if (s ~ ctlre) s = ctlesc(s)
      return s
    }
    function close_section(s) {
      if (s == 0) printf "}"
      else if (s == 4) printf "]"
      else printf "}"
    }
    function open_section(s) {
      while (cur < s) {
        close_section(cur)
        cur++
        printf ",\"%s\":%s", name[cur], (cur == 4 ? "[" : "{")
        first = 1
      }
    }
    function emit(   i, budget, l) {
      if (secs !~ /^[0-4]$/) return
      sec = secs + 0
      if (sec < cur) return
      open_section(sec)
      if (sec == 0) printf ",\"%s\":\"", esc(key)
      else if (sec == 4) printf "%s\"", (first ? "" : ",")
      else printf "%s\"%s\":\"", (first ? "" : ","), esc(key)
      first = 0
      budget = (sec == 0 ? 253 : 4000)
      for (i = 1; i <= n; i++) {
        l = lines[i]
        if (sec == 4 || sec == 0) {
          # error messages and agent fields are short strings in the schema
          if (budget <= 0) break
          if (length(l) > budget) l = substr(l, 1, budget)
          budget -= length(l) + 1
        }
        if (i > 1) printf "\\n"
        printf "%s", esc(l)
      }
      printf "\""
    }
    BEGIN {
      name[1] = "files"; name[2] = "links"; name[3] = "commands"; name[4] = "errors"
      for (i = 1; i < 32; i++) ctl[sprintf("%c", i)] = sprintf("\\u%04x", i)
      ctl[sprintf("%c", 127)] = "\\u007f"
      ctl[sprintf("%c", 8)] = "\\b"; ctl[sprintf("%c", 12)] = "\\f"
      ctl[sprintf("%c", 13)] = "\\r"; ctl[sprintf("%c", 10)] = "\\n"
      ctlre = "[\001-\037\177]"
      head = mark " "; hlen = length(head)
      endm = mark "-end"; abortm = mark "-abort"
      state = 0; cur = 0
      printf "{\"format\":\"%s\",\"agent\":{\"version\":\"%s\"", esc(format), esc(version)
    }
    state == 0 {
      if (substr($0, 1, hlen) == head) {
        rest = substr($0, hlen + 1)
        secs = substr(rest, 1, 1); key = substr(rest, 3)
        n = 0; state = 1
      }
      next
    }
    $0 == endm { emit(); state = 0; next }
    $0 == abortm { state = 0; next }
    { lines[++n] = $0 }
    END {
      open_section(4)
      close_section(4)
      printf "}\n"
    }
  ' "$W/s0" "$W/s1" "$W/s2" "$W/s3" "$W/s4"
}

# ---------------------------------------------------------------------------------------------
# HTTP
# ---------------------------------------------------------------------------------------------

pick_client() {
  WGET_GNU=0
  if [ -z "$HTTP_CLIENT" ]; then
    if command -v wget >/dev/null 2>&1; then
      HTTP_CLIENT=wget
    elif command -v curl >/dev/null 2>&1; then
      HTTP_CLIENT=curl
    elif command -v nc >/dev/null 2>&1; then
      HTTP_CLIENT=nc
    else
      return 1
    fi
  fi
  case $HTTP_CLIENT in
    wget | curl | nc) command -v "$HTTP_CLIENT" >/dev/null 2>&1 || return 1 ;;
    *) return 1 ;;
  esac
  if [ "$HTTP_CLIENT" = wget ]; then
    case $(wget --version 2>/dev/null </dev/null) in *'GNU Wget'*) WGET_GNU=1 ;; esac
  fi
  return 0
}

# Status line of the last response in a header dump: sets HTTP_CODE (000 when there is none) and
# HTTP_REASON. Busybox and GNU wget -S print `  HTTP/1.1 400 Bad Request` on stderr; curl -D
# writes `HTTP/1.1 400 Bad Request\r` (after any `100 Continue`).
parse_status() {
  ps_line=
  if [ -r "$1" ]; then
    ps_line=$(awk '
      { sub(/\r$/, "") }
      /^[ \t]*HTTP\/[0-9.]+[ \t]+[0-9][0-9][0-9]/ { sub(/^[ \t]+/, ""); last = $0 }
      END { print last }' "$1")
  fi
  HTTP_CODE=000
  HTTP_REASON=
  if [ -n "$ps_line" ]; then
    ps_rest=${ps_line#* }
    HTTP_CODE=${ps_rest%% *}
    case $ps_rest in *' '*) HTTP_REASON=${ps_rest#* } ;; esac
    is_uint "$HTTP_CODE" || HTTP_CODE=000
  fi
}

# The last line of the client's stderr that is not a response header: why a request failed.
client_error() {
  [ -r "$W/http.err" ] || return 0
  awk '
    { sub(/\r$/, "") }
    /^[ \t]/ || /^[ \t]*HTTP\// || NF == 0 { next }
    { last = $0 }
    END { print last }' "$W/http.err"
}

# POST the payload with busybox nc over HTTP/1.0 (the server closes the connection after the
# response). Used when neither wget nor curl exists, and to read the body of an error response
# that busybox wget does not keep.
post_nc() {
  case $ENROLL_URL in http://*) ;; *)
    printf 'nc: only http:// URLs\n' >"$W/http.err"
    return 1
    ;;
  esac
  pn_rest=${ENROLL_URL#http://}
  pn_hostport=${pn_rest%%/*}
  pn_path=/
  case $pn_rest in */*) pn_path=/${pn_rest#*/} ;; esac
  case $pn_hostport in
    \[*\]:*) pn_host=${pn_hostport%%]*} pn_host=${pn_host#\[} pn_port=${pn_hostport##*]:} ;;
    \[*\]) pn_host=${pn_hostport#\[} pn_host=${pn_host%]} pn_port=80 ;;
    *:*) pn_host=${pn_hostport%:*} pn_port=${pn_hostport##*:} ;;
    *) pn_host=$pn_hostport pn_port=80 ;;
  esac
  pn_len=$(wc -c <"$W/payload.json")
  pn_len=$((pn_len + 0))
  rm -f "$W/ncin" "$W/ncout"
  mkfifo "$W/ncin" 2>"$W/http.err" || return 1
  # The writer keeps the pipe open (sleep) so that nc does not stop at the end of the request.
  {
    printf 'POST %s HTTP/1.0\r\nHost: %s\r\nContent-Type: application/json\r\nContent-Length: %s\r\nConnection: close\r\n' \
      "$pn_path" "$pn_hostport" "$pn_len"
    if [ -n "$TOKEN" ]; then printf 'Authorization: Bearer %s\r\n' "$TOKEN"; fi
    printf '\r\n'
    cat "$W/payload.json"
    exec sleep 90 2>/dev/null
  } >"$W/ncin" &
  pn_writer=$!
  run_limited 60 nc "$pn_host" "$pn_port" <"$W/ncin" >"$W/ncout" 2>"$W/http.err"
  kill "$pn_writer" 2>/dev/null
  wait "$pn_writer" 2>/dev/null
  rm -f "$W/ncin"
  awk -v hdr="$W/hdr" -v body="$W/resp" '
    inbody { print > body; next }
    { print > hdr; line = $0; sub(/\r$/, "", line); if (line == "") inbody = 1 }
  ' "$W/ncout"
  return 0
}

# One POST: sets HTTP_CODE and HTTP_REASON; the response body (when the client keeps it) is in
# $W/resp, the client's messages in $W/http.err.
post_once() {
  rm -f "$W/resp" "$W/hdr" "$W/http.err"
  : >"$W/hdr"
  case $HTTP_CLIENT in
    wget)
      set -- -S -O "$W/resp" --header 'Content-Type: application/json' --post-file "$W/payload.json"
      if [ -n "$TOKEN" ]; then set -- "$@" --header "Authorization: Bearer $TOKEN"; fi
      # GNU wget retries by itself and drops error bodies unless told otherwise. (Busybox wget
      # has no such options, and its -T crashes some builds: timeout(1) bounds it instead.)
      if [ "$WGET_GNU" = 1 ]; then set -- "$@" --tries=1 --timeout=60 --content-on-error --max-redirect=0; fi
      run_limited 150 wget "$@" "$ENROLL_URL" </dev/null >/dev/null 2>"$W/http.err"
      parse_status "$W/http.err"
      ;;
    curl)
      set -- -sS -D "$W/hdr" -o "$W/resp" --connect-timeout 10 --max-time 120 \
        -H 'Content-Type: application/json' -H 'Expect:' --data-binary "@$W/payload.json"
      if [ -n "$TOKEN" ]; then
        printf 'Authorization: Bearer %s\n' "$TOKEN" >"$W/auth"
        set -- "$@" -H "@$W/auth"
      fi
      run_limited 150 curl "$@" "$ENROLL_URL" </dev/null >/dev/null 2>"$W/http.err"
      parse_status "$W/hdr"
      ;;
    nc)
      post_nc
      parse_status "$W/hdr"
      ;;
  esac
}

# Flattens a JSON document to `.path=value` lines (strings unescaped, on one line) and keeps the
# fields the agent reads. Tolerant: a truncated or odd document gives fewer lines, never a hang
# (every step of every loop consumes at least one character).
json_fields() {
  LC_ALL=C awk '
    { s = s $0 "\n" }
    function ws() { while (p <= L && index(" \t\r\n", substr(s, p, 1)) > 0) p++ }
    function str(   out, c, e) {
      if (substr(s, p, 1) != "\"") return ""
      p++; out = ""
      while (p <= L) {
        c = substr(s, p, 1)
        if (c == "\"") { p++; return out }
        if (c == "\\") {
          e = substr(s, p + 1, 1); p += 2
          if (e == "u") { out = out "?"; p += 4 }
          else if (e == "n" || e == "r" || e == "t" || e == "b" || e == "f") out = out " "
          else out = out e
          continue
        }
        out = out c; p++
      }
      return out
    }
    function keep(path, v) {
      if (path ~ /^\.(created|action|message|machine\.id|error\.message|warnings\[[0-9]+\])$/) print path "=" v
    }
    function val(path,   c, k, i, start) {
      ws(); c = substr(s, p, 1)
      if (c == "{") {
        p++; ws()
        if (substr(s, p, 1) == "}") { p++; return }
        while (p <= L) {
          ws(); k = str(); ws()
          if (substr(s, p, 1) == ":") p++
          val(path "." k); ws()
          c = substr(s, p, 1); p++
          if (c != ",") return
        }
        return
      }
      if (c == "[") {
        p++; ws()
        if (substr(s, p, 1) == "]") { p++; return }
        i = 0
        while (p <= L) {
          val(path "[" i "]"); i++; ws()
          c = substr(s, p, 1); p++
          if (c != ",") return
        }
        return
      }
      if (c == "\"") { keep(path, str()); return }
      start = p
      while (p <= L && index(",}] \t\r\n", substr(s, p, 1)) == 0) p++
      keep(path, substr(s, start, p - start))
    }
    END { L = length(s); p = 1; if (L > 0) val("") }
  ' "$1"
}

# Reads the server's answer: RESP_ID, RESP_CREATED, RESP_ACTION, RESP_MESSAGE; warnings to stderr.
read_response() {
  RESP_ID='' RESP_CREATED='' RESP_ACTION='' RESP_MESSAGE=''
  [ -s "$W/resp" ] || return 0
  json_fields "$W/resp" >"$W/fields" 2>/dev/null
  while IFS= read -r rr_line; do
    rr_v=${rr_line#*=}
    case $rr_line in
      .machine.id=*) RESP_ID=$rr_v ;;
      .created=*) RESP_CREATED=$rr_v ;;
      .action=*) RESP_ACTION=$rr_v ;;
      .error.message=*) RESP_MESSAGE=$rr_v ;;
      .message=*) [ -n "$RESP_MESSAGE" ] || RESP_MESSAGE=$rr_v ;;
      .warnings\[*) log "server warning: $rr_v" ;;
    esac
  done <"$W/fields"
  if [ -z "$RESP_MESSAGE" ] && [ ! -s "$W/fields" ]; then
    # Not JSON: the start of the body.
    RESP_MESSAGE=$(tr '\r\n\t' '   ' <"$W/resp" | cut -c1-300)
  fi
  return 0
}

# Tries up to RETRIES times with exponential backoff. Sets TRIES and, on failure, FAIL_REASON.
enroll() {
  TRIES=0
  FAIL_REASON=
  en_delay=$BACKOFF_BASE
  while [ "$TRIES" -lt "$RETRIES" ]; do
    TRIES=$((TRIES + 1))
    post_once
    case $HTTP_CODE in
      2??)
        read_response
        return 0
        ;;
      408 | 429 | 5??)
        read_response
        FAIL_REASON="HTTP $HTTP_CODE${HTTP_REASON:+ $HTTP_REASON}${RESP_MESSAGE:+: $RESP_MESSAGE}"
        ;;
      000)
        en_err=$(client_error)
        FAIL_REASON="cannot reach $ENROLL_URL${en_err:+: $en_err}"
        ;;
      *)
        # 4xx and anything unexpected: the same request will not do better.
        if [ ! -s "$W/resp" ] && [ "$HTTP_CLIENT" = wget ] && [ "$WGET_GNU" = 0 ] &&
          command -v nc >/dev/null 2>&1 && command -v mkfifo >/dev/null 2>&1; then
          # Busybox wget drops the body of an error response: ask again with nc to read why.
          en_code=$HTTP_CODE en_reason=$HTTP_REASON
          post_nc && parse_status "$W/hdr"
          case $HTTP_CODE in
            2??)
              read_response
              return 0
              ;;
            000) HTTP_CODE=$en_code HTTP_REASON=$en_reason ;;
          esac
        fi
        read_response
        FAIL_REASON="HTTP $HTTP_CODE${HTTP_REASON:+ $HTTP_REASON}${RESP_MESSAGE:+: $RESP_MESSAGE}"
        return 1
        ;;
    esac
    if [ "$TRIES" -lt "$RETRIES" ]; then
      log "try $TRIES/$RETRIES failed: $FAIL_REASON; retrying in ${en_delay}s"
      sleep "$en_delay"
      en_delay=$((en_delay * 2))
      [ "$en_delay" -gt 30 ] && en_delay=30
    fi
  done
  return 1
}

# ---------------------------------------------------------------------------------------------
# Action
# ---------------------------------------------------------------------------------------------

do_action() {
  if [ -n "$NO_POWER" ]; then
    log "not doing '$1' (METALPLANE_NO_POWER is set)"
    return 0
  fi
  case $1 in
    poweroff | reboot)
      log "$1"
      sync
      sleep 2 # let the console drain before the machine goes away
      if [ "$1" = poweroff ]; then poweroff -f; else reboot -f; fi
      sleep 5
      # Still here: ask the kernel directly.
      { echo 1 >/proc/sys/kernel/sysrq; } 2>/dev/null
      if [ "$1" = poweroff ]; then
        { echo o >/proc/sysrq-trigger; } 2>/dev/null
      else
        { echo b >/proc/sysrq-trigger; } 2>/dev/null
      fi
      sleep 5
      log "could not $1"
      return 1
      ;;
    wait)
      log "waiting (metalplane action 'wait')"
      while :; do sleep 3600; done
      ;;
  esac
}

# ---------------------------------------------------------------------------------------------

main() {
  W=
  trap cleanup EXIT
  trap 'exit 129' HUP
  trap 'exit 130' INT
  trap 'exit 143' TERM
  read_settings
  detect_timeout

  if ! make_workdir; then
    say "metalplane: enrollment FAILED after 0 tries: no writable temporary directory"
    do_action "$FAILURE_ACTION"
    return 1
  fi
  open_spools || {
    say "metalplane: enrollment FAILED after 0 tries: cannot write to $W"
    do_action "$FAILURE_ACTION"
    return 1
  }
  collect
  close_spools
  if ! build_json >"$W/payload.json"; then
    say "metalplane: enrollment FAILED after 0 tries: could not build the facts document"
    do_action "$FAILURE_ACTION"
    return 1
  fi
  rm -f "$W/s0" "$W/s1" "$W/s2" "$W/s3" "$W/s4"

  if [ -n "$DRY_RUN" ]; then
    cat "$W/payload.json"
    log "dry run: $(wc -c <"$W/payload.json" | tr -d ' ') bytes of facts, $ERRORS errors; nothing sent"
    return 0
  fi

  case $URL in
    '')
      say "metalplane: enrollment FAILED after 0 tries: no metalplane.url on the kernel command line"
      do_action "$FAILURE_ACTION"
      return 1
      ;;
    http://* | https://*) ;;
    *) URL=http://$URL ;;
  esac
  case $URL in
    */api/v1/enroll) ENROLL_URL=$URL ;;
    *) ENROLL_URL=${URL%/}/api/v1/enroll ;;
  esac
  if ! pick_client; then
    say "metalplane: enrollment FAILED after 0 tries: no HTTP client (${HTTP_CLIENT:-wget, curl or nc}) found"
    do_action "$FAILURE_ACTION"
    return 1
  fi
  log "enrolling at $ENROLL_URL with $HTTP_CLIENT ($(wc -c <"$W/payload.json" | tr -d ' ') bytes, $ERRORS errors)"

  if enroll; then
    case $RESP_CREATED in true) en_how=new ;; *) en_how=updated ;; esac
    say "metalplane: enrolled as machine ${RESP_ID:-unknown} ($en_how)"
    if [ -n "$RESP_ACTION" ]; then
      if valid_action "$RESP_ACTION"; then
        ACTION=$RESP_ACTION
      else
        log "ignoring the server's action '$RESP_ACTION'"
      fi
    fi
    cleanup
    do_action "$ACTION"
    return 0
  fi
  say "metalplane: enrollment FAILED after $TRIES tries: $FAIL_REASON"
  cleanup
  do_action "$FAILURE_ACTION"
  return 1
}

main "$@"
