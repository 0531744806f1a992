#!/usr/bin/env bash
# Build NeuPIMs' public simulator (github.com/casys-kaist/NeuPIMs @ f299af3 main, e51a4af
# npu+pim, 57617ee npu-only) on Debian 12 without conan, as the records in
# sim/families/npu_pim/data/neupims_simulator.json were made. Nothing in the timing is changed.
#
#   bash docs/neupims_reference/build.sh NEUPIMS_CHECKOUT BOOKSIM_CHECKOUT
#
# NEUPIMS_CHECKOUT: a checkout of one branch (its src/, configs/, extern/NewtonSim/);
# BOOKSIM_CHECKOUT: github.com/PSAL-POSTECH/booksim at f0245986 (the submodule; linked, unused).
# Needs: apt-get install cmake g++ libboost-program-options-dev libspdlog-dev libfmt-dev
#        nlohmann-json3-dev
# Changes to the build only:
#   - conan's packages replaced by Debian's (boost program_options, spdlog 1.10 with external
#     fmt 9, nlohmann-json 3.11), robin_hood's maps by std::unordered_map (shim header below);
#   - -O2 instead of the repository's -O0 debug build.
# Optional: NPLOG=FILE when running logs every systolic and vector instruction the core issues
# (opcode, issue, start and finish cycle, size, tile m/k/n, op name): the instruction traces
# docs/npu_pim.md quotes. The hook only writes; it changes no timing.
set -euo pipefail
src=$(realpath "$1"); booksim=$(realpath "$2")
shim="$src/build/shim"
mkdir -p "$shim" "$src/extern/booksim"
cp -r "$booksim"/. "$src/extern/booksim/"
cat > "$shim/robin_hood.h" <<'H'
#pragma once
#include <unordered_map>
#include <unordered_set>
namespace robin_hood {
template <class K, class V, class H = std::hash<K>, class E = std::equal_to<K>>
using unordered_map = std::unordered_map<K, V, H, E>;
template <class K, class H = std::hash<K>, class E = std::equal_to<K>>
using unordered_set = std::unordered_set<K, H, E>;
}
H
python3 - "$src" "$shim" <<'PY'
import sys
src, shim = sys.argv[1], sys.argv[2]
p = f"{src}/CMakeLists.txt"
s = open(p).read()
s = s.replace('include("${CMAKE_SOURCE_DIR}/build/conanbuildinfo.cmake")\nconan_basic_setup()',
              f'include_directories({shim})\nadd_definitions(-DSPDLOG_FMT_EXTERNAL)')
s = s.replace("set(CMAKE_BUILD_TYPE Debug)", "set(CMAKE_BUILD_TYPE Release)")
s = s.replace('set(CMAKE_CXX_FLAGS "-g -O0 -Wall -Wextra --debug-cpp --trace -rdynamic")',
              'set(CMAKE_CXX_FLAGS "-O2 -w")')
s = s.replace("add_definitions(-D_GLIBCXX_USE_CXX11_ABI=0)", "")
s = s.replace("${CONAN_LIBS}", "boost_program_options spdlog fmt")
open(p, "w").write(s)
# the NPLOG instruction trace (writes only)
p = f"{src}/src/NeuPIMSystolicWS.cc"
s = open(p).read()
if "NPLOG" not in s:
    s = s.replace('#include "NeuPIMSystolicWS.h"\n', '#include "NeuPIMSystolicWS.h"\n#include <cstdio>\n'
                  '#include <cstdlib>\nstatic FILE *nplog() { static FILE *f = getenv("NPLOG") ? '
                  'fopen(getenv("NPLOG"), "w") : nullptr; return f; }\n', 1)
    s = s.replace("""        _compute_pipeline.push(inst);
        _stat_systolic_inst_issue_count++;
""", """        _compute_pipeline.push(inst);
        _stat_systolic_inst_issue_count++;
        if (nplog()) fprintf(nplog(), "S %d %lu %lu %lu %u %u %u %u %s\\n", (int)inst.opcode, (unsigned long)_core_cycle, (unsigned long)inst.start_cycle, (unsigned long)inst.finish_cycle, inst.size, inst.tile_m, inst.tile_k, inst.tile_n, parent_tile->optype.c_str());
""", 1)
    s = s.replace("""        least_filled_vpu->push(inst);
""", """        least_filled_vpu->push(inst);
        if (nplog()) { auto pt = inst.parent_tile.lock(); fprintf(nplog(), "V %d %lu %lu %lu %u %s\\n", (int)inst.opcode, (unsigned long)_core_cycle, (unsigned long)inst.start_cycle, (unsigned long)inst.finish_cycle, inst.size, pt ? pt->optype.c_str() : "?"); }
""", 1)
    open(p, "w").write(s)
PY
mkdir -p "$src/build" && cd "$src/build"
cmake .. -DCMAKE_BUILD_TYPE=Release > cmake.log
make -j"$(nproc)" Simulator > make.log
echo "built $src/build/bin/Simulator"
# Run from $src/build, e.g. NeuPIMs at GPT3-7B TP4, ShareGPT batch 512:
#   ./bin/Simulator --config ../configs/systolic_ws_128x128_dev.json \
#     --mem_config ../configs/memory_configs/neupims.json \
#     --cli_config ../request-traces/clb/share-gpt2-bs512-ms7B-tp4-clb-0.csv \
#     --model_config ../configs/model_configs/gpt3-7B.json \
#     --sys_config ../configs/system_configs/sub-batch-on.json --log_dir ../logs/sbon
# (naive: the npu+pim checkout with memory_configs/newton.json and system_configs/npupim.json)
# then: python docs/neupims_reference/extract_stats.py ../logs/sbon STDOUT composite
