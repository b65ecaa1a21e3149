# The cluster (issue 20): vtag train, features and tag under
# mpirun --allow-run-as-root --oversubscribe -np 2 on loopback, against one
# process. Open MPI is installed by make deps (scripts/packages.txt); these
# tests are never skipped. Release build only: Open MPI's own allocations are
# reported as leaks by LeakSanitizer, and the library code they run is covered
# by the module tests under ASan+UBSan.
find_program(VTAG_MPIRUN mpirun REQUIRED)
# mpi_yield_when_idle: a rank waiting in MPI gives its core away (ranks here share 2 cores with
# their decoder threads)
set(VTAG_MPIRUN_ARGS --allow-run-as-root --oversubscribe --bind-to none --mca btl self,tcp --mca btl_tcp_if_include lo
    --mca mpi_yield_when_idle 1)
foreach(part train shard pipeline)
  if(EXISTS ${CMAKE_CURRENT_LIST_DIR}/${part}.cmake)
    include(${CMAKE_CURRENT_LIST_DIR}/${part}.cmake)
  endif()
endforeach()
