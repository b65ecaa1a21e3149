# --output, --resume and --format of tag, backbone predict, probe and score
# (issue 18 "Outputs"): outputs.py on a run folder made by vtag pipeline on the
# pipeline tests' 4 clips. csv: every command's CSV against its JSON lines;
# resume: vtag tag SIGKILLed mid-run, then --resume. Each about 20 s on a loaded
# 2-core machine (the pipeline included); the timeouts catch hangs only.
find_program(VTAG_FFMPEG ffmpeg REQUIRED)
foreach(mode csv resume)
  add_test(NAME outputs/${mode}
           COMMAND ${VTAG_PYTHON} ${CMAKE_CURRENT_LIST_DIR}/outputs.py $<TARGET_FILE:vtag> ${VTAG_FFMPEG}
                   ${VTAG_FIXTURES}/outputs/${mode} ${mode}
           WORKING_DIRECTORY ${VTAG_FIXTURES})
  set_tests_properties(outputs/${mode} PROPERTIES TIMEOUT 300)
endforeach()
# tag --output (and --resume, --format csv) under mpirun -np 2: rank 0 alone writes, the file is one
# process's. Release build only, as tests/mpi (Open MPI's allocations are leaks to LeakSanitizer).
if(NOT VTAG_SANITIZE)
  find_program(VTAG_MPIRUN mpirun REQUIRED)
  add_test(NAME outputs/mpi
           COMMAND ${VTAG_PYTHON} ${CMAKE_CURRENT_LIST_DIR}/outputs.py $<TARGET_FILE:vtag> ${VTAG_FFMPEG}
                   ${VTAG_FIXTURES}/outputs/mpi mpi ${VTAG_MPIRUN} --allow-run-as-root --oversubscribe
                   --bind-to none --mca btl self,tcp --mca btl_tcp_if_include lo --mca mpi_yield_when_idle 1
           WORKING_DIRECTORY ${VTAG_FIXTURES})
  set_tests_properties(outputs/mpi PROPERTIES TIMEOUT 300)
endif()
