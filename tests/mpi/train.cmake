# vtag train under mpirun -np 1/2/4 against one process, and a rank killed
# mid-epoch then --resume (tests/mpi/train.py says what it asserts). About 2
# minutes on a quiet 2-core machine; the timeout catches a hang only.
if(NOT VTAG_SANITIZE)
  add_test(NAME mpi/train
           COMMAND ${VTAG_PYTHON} ${CMAKE_CURRENT_LIST_DIR}/train.py $<TARGET_FILE:vtag> ${VTAG_FIXTURES}/mpi/train
                   ${VTAG_FIXTURES}/e2e ${VTAG_MPIRUN} ${VTAG_MPIRUN_ARGS}
           WORKING_DIRECTORY ${VTAG_FIXTURES})
  set_tests_properties(mpi/train PROPERTIES TIMEOUT 1200 FIXTURES_REQUIRED e2e_run)
endif()
