# nn tests beyond the auto-registered test_*.c: the PyTorch parity fixture.
# reference/layers.py regenerates layers.safetensors on every run (none are committed);
# nn/test_parity reads it from its working directory, ${VTAG_FIXTURES}.
add_test(NAME nn/parity_fixture
         COMMAND ${VTAG_PYTHON} ${PROJECT_SOURCE_DIR}/reference/layers.py --out ${VTAG_FIXTURES}/layers.safetensors
         WORKING_DIRECTORY ${VTAG_FIXTURES})
set_tests_properties(nn/parity_fixture PROPERTIES FIXTURES_SETUP nn_layers)
set_tests_properties(nn/test_parity PROPERTIES FIXTURES_REQUIRED nn_layers)
# The sanitizer build also traps float-to-int conversions out of range (not part of GCC's
# -fsanitize=undefined): nn.h's exp must not make one from a NaN.
if(VTAG_SANITIZE)
  target_compile_options(nn_test_fastmath PRIVATE -fsanitize=float-cast-overflow)
  target_link_options(nn_test_fastmath PRIVATE -fsanitize=float-cast-overflow)
endif()
