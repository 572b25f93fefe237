#!/bin/sh
# Every man page in the directory renders with groff -ww (all warnings) without a word on
# stderr.
set -eu
dir=$1
status=0
for page in "$dir"/*.[1-8]; do
	out=$(groff -ww -man -Tutf8 "$page" 2>&1 >/dev/null)
	if [ -n "$out" ]; then
		echo "$page:" >&2
		echo "$out" >&2
		status=1
	else
		echo "$page: clean"
	fi
done
exit $status
