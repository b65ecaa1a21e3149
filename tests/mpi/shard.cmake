# vtag features and vtag tag shared out over MPI ranks (issue 20, must-show 2):
# under mpirun -np 2 and -np 3, on the e2e corpus with its two broken files,
# the features file and the tag lines are byte-identical to one process's, with
# the same exit codes and error lines (tests/mpi/shard.py). Release build only
# (see tests.cmake); about 30 s on a quiet 2-core machine, the timeout catches
# hangs only.
if(NOT VTAG_SANITIZE)
  add_test(NAME mpi/shard_same_output
           COMMAND ${VTAG_PYTHON} ${CMAKE_CURRENT_LIST_DIR}/shard.py $<TARGET_FILE:vtag> ${VTAG_FIXTURES}/e2e
                   ${VTAG_FIXTURES}/mpi/shard ${VTAG_MPIRUN} ${VTAG_MPIRUN_ARGS}
           WORKING_DIRECTORY ${VTAG_FIXTURES})
  set_tests_properties(mpi/shard_same_output PROPERTIES TIMEOUT 900 FIXTURES_REQUIRED e2e_run)
endif()
