# Hostile input (issue 14): each script takes the vtag binary and runs it on
# inputs made to hang it, exhaust its memory, or forge its messages and
# outputs; each command runs under a time limit and is killed, not waited
# for, when it hangs.
foreach(t line_cap blocking_open utf8_names escape_messages playlist)
  add_test(NAME hostile/${t}
           COMMAND ${VTAG_PYTHON} ${CMAKE_CURRENT_LIST_DIR}/${t}.py $<TARGET_FILE:vtag>
           WORKING_DIRECTORY ${VTAG_FIXTURES})
  set_tests_properties(hostile/${t} PROPERTIES TIMEOUT 300)
endforeach()
