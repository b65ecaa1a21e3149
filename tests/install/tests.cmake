# make install, pkg-config, the C example and the Python package (issue 18, must-show 5): the
# build's own install tree under a temporary prefix (cmake --install, no rebuild), a program
# compiled with pkg-config's flags, and the package pip-installed offline into a venv. The
# release build only (the ASan build's shared library would need the ASan runtime preloaded
# into Python). It needs the whole build (libvtag.so and vtag.1 are in make build's targets).
if(NOT VTAG_SANITIZE AND NOT VTAG_FUZZ)
  find_program(VTAG_FFMPEG ffmpeg REQUIRED)
  find_program(VTAG_CC NAMES cc gcc REQUIRED)
  add_test(NAME install/install
           COMMAND ${VTAG_PYTHON} ${CMAKE_CURRENT_LIST_DIR}/install.py ${CMAKE_BINARY_DIR} $<TARGET_FILE:vtag>
                   ${VTAG_FFMPEG} ${VTAG_CC} ${VTAG_FIXTURES}/install)
  set_tests_properties(install/install PROPERTIES TIMEOUT 300)
endif()
