# backbone tests beyond the auto-registered test_*.c, one file per part.
include(${CMAKE_CURRENT_LIST_DIR}/builtin.cmake)
