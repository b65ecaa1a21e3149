# vtag pipeline --launcher (issue 20): the features and training stages under a
# wrapper of mpirun -np 2 against one process, the launcher's errors, and a
# SIGKILL to the pipeline ending the launcher's job. Release build only (see
# tests.cmake); a run takes about 15 s, the timeout catches hangs only.
if(NOT VTAG_SANITIZE)
  find_program(VTAG_FFMPEG ffmpeg REQUIRED)
  add_test(NAME mpi/pipeline_launcher
           COMMAND ${VTAG_PYTHON} ${CMAKE_CURRENT_LIST_DIR}/pipeline_launcher.py $<TARGET_FILE:vtag> ${VTAG_FFMPEG}
                   ${VTAG_MPIRUN} ${VTAG_FIXTURES}/mpi/pipeline_launcher
           WORKING_DIRECTORY ${VTAG_FIXTURES})
  set_tests_properties(mpi/pipeline_launcher PROPERTIES TIMEOUT 600)
endif()
