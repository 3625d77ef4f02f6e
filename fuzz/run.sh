#!/usr/bin/env bash
# fuzz/run.sh — build the libFuzzer targets (clang -fsanitize=fuzzer,address,undefined) into
# build-fuzz/ and fuzz each for SECONDS (default 60) from its committed corpus fuzz/corpus/<t>/.
# Exits non-zero when a target crashes, leaks, trips a sanitizer or times out; the input that
# did it is left in build-fuzz/<target>-crash-* (add it to the corpus once fixed).
#
#   bash fuzz/run.sh [SECONDS] [TARGET...]       targets: json_decode yaml_load csv_reader
#                                                 xml_parse sigv4_url grib_scan (default: all)
# New inputs the fuzzer finds go to build-fuzz/corpus/<t>/, not into the committed corpus.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
secs=${1:-60}
shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(json_decode yaml_load csv_reader xml_parse sigv4_url grib_scan)
out=build-fuzz
mkdir -p "$out"

CC=${CC:-clang}
CFLAGS=(-std=c11 -g -O1 -Wall -Wextra -Werror -fno-omit-frame-pointer
  -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all -Ihost -Ifuzz)
LUA_FLAGS=($(pkg-config --cflags lua5.4))
LUA_LIBS=($(pkg-config --libs lua5.4) -lm)

sources() {
  case "$1" in
    json_decode) echo "fuzz/json_decode.c modules/json/ljson.c modules/json/json.c fuzz/host_stub.c" ;;
    yaml_load) echo "fuzz/yaml_load.c modules/yaml/lyaml.c modules/yaml/yaml.c fuzz/host_stub.c" ;;
    xml_parse) echo "fuzz/xml_parse.c" ;;
    csv_reader) echo "fuzz/csv_reader.c modules/csv/csv.c" ;;
    sigv4_url) echo "fuzz/sigv4_url.c modules/aws/sigv4.c" ;;
    grib_scan) echo "fuzz/grib_scan.c modules/grib/gribscan.c" ;;
    *) echo "fuzz/run.sh: unknown target '$1'" >&2; exit 2 ;;
  esac
}

flags() {
  case "$1" in
    json_decode) echo "${LUA_FLAGS[*]} ${LUA_LIBS[*]}" ;;
    yaml_load) echo "$(pkg-config --cflags --libs yaml-0.1) ${LUA_FLAGS[*]} ${LUA_LIBS[*]}" ;;
    xml_parse) echo "-DGF_XML_LUA=\"$root/modules/xml/xml.lua\" ${LUA_FLAGS[*]} ${LUA_LIBS[*]}" ;;
    csv_reader) echo "-Imodules/csv" ;;
    sigv4_url) echo "-Imodules/aws $(pkg-config --cflags --libs libcrypto)" ;;
    grib_scan) echo "-Imodules/grib" ;;
  esac
}

failed=()
for t in "${targets[@]}"; do
  # shellcheck disable=SC2046
  "$CC" "${CFLAGS[@]}" $(sources "$t") $(flags "$t") -o "$out/$t"
  mkdir -p "$out/corpus/$t"
  echo "fuzz/run.sh: $t for ${secs}s" >&2
  # The first corpus directory receives new inputs; the committed one is only read.
  if ! "$out/$t" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
    -artifact_prefix="$out/$t-" "$out/corpus/$t" "fuzz/corpus/$t" >"$out/$t.log" 2>&1; then
    echo "fuzz/run.sh: $t FAILED (log: $out/$t.log)" >&2
    grep -E "^==[0-9]+==ERROR|SUMMARY|Test unit written|runtime error" "$out/$t.log" >&2 || tail -20 "$out/$t.log" >&2
    failed+=("$t")
  else
    grep -E "stat::number_of_executed_units|stat::peak_rss_mb" "$out/$t.log" | tr '\n' ' ' >&2
    echo >&2
  fi
done
if [ ${#failed[@]} -gt 0 ]; then
  echo "fuzz/run.sh: crashes in: ${failed[*]}" >&2
  exit 1
fi
echo "fuzz/run.sh: ${#targets[@]} targets, ${secs}s each, no crash" >&2
