#!/usr/bin/env bash
# gen-fuzzy-testdata.sh — regenerate the expected fuzzy hashes that the
# tests of internal/fuzzy/ssdeep and internal/fuzzy/tlsh compare against.
#
# It writes the deterministic corpus of package internal/fuzzy/corpus to a
# temporary directory (the corpus itself is not committed: the tests build
# the same bytes in memory), runs the reference tools over it, and writes:
#
#   internal/fuzzy/testdata/hashes.tsv  file, size, ssdeep hash, TLSH digest
#                                       ("-" where tlsh refuses the file)
#   internal/fuzzy/testdata/pairs.tsv   file a, file b, ssdeep score,
#                                       TLSH distance, TLSH distance without
#                                       the length part (-xlen); "-" where
#                                       either file has no TLSH digest
#
# The reference tools are Debian's: `ssdeep` (package ssdeep, 2.14) and
# `tlsh` (package tlsh-tools, 3.4.4); install them with
#   apt-get install ssdeep tlsh-tools
# Re-running it is safe; it rewrites both files. Set KEEP_CORPUS=DIR to keep
# the generated files in DIR instead of a temporary directory.
set -euo pipefail

cd "$(dirname "$0")/.."
export PATH="/usr/local/go/bin:$PATH"

for tool in ssdeep tlsh go; do
	command -v "$tool" >/dev/null || { echo "gen-fuzzy-testdata: $tool not found (apt-get install ssdeep tlsh-tools)" >&2; exit 1; }
done

out=internal/fuzzy/testdata
mkdir -p "$out"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
corpus=${KEEP_CORPUS:-$work/corpus}

go run ./internal/fuzzy/corpus/gencorpus -out "$corpus" >"$work/names"
go run ./internal/fuzzy/corpus/gencorpus -pairs >"$work/pairs"

# ssdeep: one run over all files; -b prints bare names, -s keeps it quiet.
# Its output is a header line, then 'hash,"name"' per file.
declare -A ssdeep_of tlsh_of
(cd "$corpus" && xargs ssdeep -s -b <"$work/names") >"$work/ssdeep.csv"
while IFS= read -r line; do
	case $line in ssdeep,*) continue ;; esac
	name=${line##*,\"}
	name=${name%\"}
	ssdeep_of[$name]=${line%,\"*}
done <"$work/ssdeep.csv"

# tlsh: 'DIGEST<TAB>file' on success; a message on stderr when the file is
# too short or varies too little.
while IFS= read -r name; do
	digest=$(tlsh -f "$corpus/$name" 2>/dev/null | cut -f1 || true)
	[[ $digest =~ ^[0-9A-F]{70}$ ]] || digest=-
	tlsh_of[$name]=$digest
done <"$work/names"

{
	echo "# Written by scripts/gen-fuzzy-testdata.sh with $(ssdeep -V | head -1 | sed 's/^/ssdeep /') and tlsh $(tlsh -version | head -1)."
	echo "# file	size	ssdeep	tlsh"
	while IFS= read -r name; do
		[[ -n ${ssdeep_of[$name]:-} ]] || { echo "gen-fuzzy-testdata: no ssdeep hash for $name" >&2; exit 1; }
		size=$(stat -c %s "$corpus/$name")
		printf '%s\t%s\t%s\t%s\n' "$name" "$size" "${ssdeep_of[$name]}" "${tlsh_of[$name]}"
	done <"$work/names"
} >"$out/hashes.tsv"

# Pair scores. ssdeep -k matches the signatures in one file against those
# in another; -a prints the score even when it is 0.
tlsh_distance() { # digest digest [flags]
	tlsh -c "$1" -d "$2" "${@:3}" | awk '{print $1; exit}'
}
{
	echo "# Written by scripts/gen-fuzzy-testdata.sh."
	echo "# file a	file b	ssdeep score	tlsh distance	tlsh distance -xlen"
	while IFS=$'\t' read -r a b; do
		for n in "$a" "$b"; do
			[[ -n ${ssdeep_of[$n]:-} ]] || { echo "gen-fuzzy-testdata: pair names unknown file $n" >&2; exit 1; }
		done
		printf 'ssdeep,1.1--blocksize:hash:hash,filename\n%s,"a"\n' "${ssdeep_of[$a]}" >"$work/sig-a"
		printf 'ssdeep,1.1--blocksize:hash:hash,filename\n%s,"b"\n' "${ssdeep_of[$b]}" >"$work/sig-b"
		score=$(ssdeep -a -k "$work/sig-a" "$work/sig-b" | sed -n 's/.*(\([0-9]*\))$/\1/p')
		[[ -n $score ]] || { echo "gen-fuzzy-testdata: ssdeep gave no score for $a, $b" >&2; exit 1; }
		ta=${tlsh_of[$a]} tb=${tlsh_of[$b]}
		if [[ $ta == - || $tb == - ]]; then
			d=- dx=-
		else
			d=$(tlsh_distance "$ta" "$tb")
			dx=$(tlsh_distance "$ta" "$tb" -xlen)
		fi
		printf '%s\t%s\t%s\t%s\t%s\n' "$a" "$b" "$score" "$d" "$dx"
	done <"$work/pairs"
} >"$out/pairs.tsv"

echo "gen-fuzzy-testdata: wrote $out/hashes.tsv ($(grep -vc '^#' "$out/hashes.tsv") files) and $out/pairs.tsv ($(grep -vc '^#' "$out/pairs.tsv") pairs)"
