# Fuzz targets: tests/fuzz/fuzz_*.c, each a LLVMFuzzerTestOneInput over the
# library's readers. With VTAG_FUZZ (clang) they are libFuzzer executables
# (make fuzz, tests/fuzz/run.sh); in every other build the same code with
# replay.c's main runs over the committed seed corpus as a test, so a
# reproducer added there stays a regression test in the gcc builds too.
set(VTAG_FUZZ_TARGETS labels_jsonl labels_csv checkpoint backbone onnx results video)
set(_fuzz_dir ${CMAKE_CURRENT_LIST_DIR})
add_custom_target(fuzz_targets)
foreach(t ${VTAG_FUZZ_TARGETS})
  set(_src ${_fuzz_dir}/fuzz_${t}.c)
  if(t MATCHES "^labels_")
    set(_src ${_fuzz_dir}/fuzz_labels.c)
  endif()
  if(VTAG_FUZZ)
    vtag_test_executable(fuzz_${t} ${_src})
    target_link_options(fuzz_${t} PRIVATE -fsanitize=fuzzer)
  else()
    vtag_test_executable(fuzz_${t} ${_src} ${_fuzz_dir}/replay.c)
    add_test(NAME fuzz/replay_${t} COMMAND fuzz_${t} ${_fuzz_dir}/corpus/${t} WORKING_DIRECTORY ${VTAG_FIXTURES})
    set_tests_properties(fuzz/replay_${t} PROPERTIES ENVIRONMENT "OMP_NUM_THREADS=1" TIMEOUT 300)
  endif()
  set_target_properties(fuzz_${t} PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/fuzz)
  add_dependencies(fuzz_targets fuzz_${t})
endforeach()
target_compile_definitions(fuzz_labels_jsonl PRIVATE FUZZ_LABELS_FORMAT=1)
target_compile_definitions(fuzz_labels_csv PRIVATE FUZZ_LABELS_FORMAT=2)
# The binary seeds (backbone, checkpoints), written with the library's own writers by make_seeds.sh.
vtag_test_executable(fuzz_make_seeds ${_fuzz_dir}/make_seeds.c)
set_target_properties(fuzz_make_seeds PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/fuzz)
add_dependencies(fuzz_targets fuzz_make_seeds)
