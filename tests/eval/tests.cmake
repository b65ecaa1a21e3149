# eval tests beyond the test_*.c executables: the HTML report opened in
# headless Chromium (tables, charts, frames, no console or script error).
add_test(NAME eval/report_browser
         COMMAND bash ${CMAKE_CURRENT_LIST_DIR}/report_browser.sh $<TARGET_FILE:vtag> ${VTAG_FIXTURES}/eval_report_browser
         WORKING_DIRECTORY ${VTAG_FIXTURES})
# 35 s with both cores busy (ASan) -> a hang guard of 300 s
set_tests_properties(eval/report_browser PROPERTIES TIMEOUT 300)
add_test(NAME eval/cli COMMAND bash ${CMAKE_CURRENT_LIST_DIR}/cli_test.sh $<TARGET_FILE:vtag> ${VTAG_FIXTURES}/eval_cli
         WORKING_DIRECTORY ${VTAG_FIXTURES})
