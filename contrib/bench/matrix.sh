#!/bin/bash
# matrix.sh A B -- paired A/B (ab.sh) of two wsbridge builds over the twelve
# scenarios issue 15 names: up 64 KiB, down, 64-byte echo over 64 and over
# 1,000 connections, each over ws://, wss:// and h2c. Prints a markdown
# table: the load when the row ran, median rates, median proxy CPU per
# message or MiB, and their ratios. ROUNDS (default 4) rounds of 2 s each.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
[ $# -eq 2 ] || { sed -n '2,7p' "$0"; exit 2; }
A=$1 B=$2 R=${ROUNDS:-4}
num() { sed -n "$1p" | sed "s/.*: [a-z_]* \([0-9.]*\) .*; us\/[A-Za-z]* \([0-9.]*\) .*/\\$2/"; }
echo "| transport | scenario | load | A rate | B rate | B/A rate | A CPU | B CPU | A/B CPU (>1: B cheaper) |"
echo "|---|---|---|---|---|---|---|---|---|"
for tr in ws wss h2c; do
	fl=
	[ "$tr" = wss ] && fl=-t
	[ "$tr" = h2c ] && fl=-2
	for sc in "up|-m up -s 65536" "down|-m down" "echo64|-m echo" \
	    "echo1000|-m echo -c 1000"; do
		load=$(cut -d' ' -f1 /proc/loadavg)
		# shellcheck disable=SC2086
		out=$("$here/ab.sh" -r "$R" -d 2 ${sc#*|} $fl "$A" "$B" | tail -2)
		awk -v t="$tr" -v s="${sc%%|*}" -v l="$load" \
		    -v ra="$(echo "$out" | num 1 1)" -v ca="$(echo "$out" | num 1 2)" \
		    -v rb="$(echo "$out" | num 2 1)" -v cb="$(echo "$out" | num 2 2)" \
		    'BEGIN { printf "| %s | %s | %s | %s | %s | **%.2fx** | %s | %s | **%.2fx** |\n",
		    t, s, l, ra, rb, ra > 0 ? rb / ra : 0, ca, cb, cb > 0 ? ca / cb : 0 }'
	done
done
