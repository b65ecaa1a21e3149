# synth tests beyond the test_*.c executables: the command line, and the
# 500-video corpus of the issue (rendered by vtag synth, then checked:
# labels against the plans, label statistics, every video decoded by the
# video module).
vtag_test_executable(synth_check_corpus ${CMAKE_CURRENT_LIST_DIR}/check_corpus.c)
target_include_directories(synth_check_corpus PRIVATE ${CMAKE_CURRENT_LIST_DIR})

add_test(NAME synth/cli COMMAND bash ${CMAKE_CURRENT_LIST_DIR}/cli_test.sh $<TARGET_FILE:vtag>
         WORKING_DIRECTORY ${VTAG_FIXTURES})
# 36 s under load (ASan) -> a hang guard of 300 s
set_tests_properties(synth/cli PROPERTIES TIMEOUT 300)
# About 35 s on a quiet 2-core machine in a release build, 191 s with both cores busy (timeout 1200); the sanitizer build
# (-O0, instrumented) would take minutes, and test_corpus already runs the
# same code paths under ASan+UBSan on a small corpus.
if(NOT VTAG_SANITIZE)
  add_test(NAME synth/corpus500
           COMMAND bash ${CMAKE_CURRENT_LIST_DIR}/corpus500.sh $<TARGET_FILE:vtag> $<TARGET_FILE:synth_check_corpus>
           WORKING_DIRECTORY ${VTAG_FIXTURES})
  set_tests_properties(synth/corpus500 PROPERTIES TIMEOUT 1200)
endif()
