# Built-in backbone tests beyond the auto-registered test_builtin_*.c: the PyTorch twin's self-test
# and the parity fixtures it writes (builtin_parity*.safetensors, none committed) into ${VTAG_FIXTURES}.
add_test(NAME backbone/builtin_reference_selftest
         COMMAND ${VTAG_PYTHON} ${PROJECT_SOURCE_DIR}/reference/builtin_backbone.py --selftest)
add_test(NAME backbone/builtin_parity_fixture
         COMMAND ${VTAG_PYTHON} ${PROJECT_SOURCE_DIR}/reference/builtin_backbone.py --fixture ${VTAG_FIXTURES}
         WORKING_DIRECTORY ${VTAG_FIXTURES})
set_tests_properties(backbone/builtin_parity_fixture PROPERTIES FIXTURES_SETUP builtin_parity)
set_tests_properties(backbone/test_builtin_parity PROPERTIES FIXTURES_REQUIRED builtin_parity)
# vtag backbone train/predict and vtag features end to end on a 48-video synth corpus.
add_test(NAME backbone/builtin_cli
         COMMAND ${VTAG_PYTHON} ${CMAKE_CURRENT_LIST_DIR}/builtin_cli.py $<TARGET_FILE:vtag> ${VTAG_FIXTURES}/builtin_cli)
set_tests_properties(backbone/builtin_cli PROPERTIES TIMEOUT 900)
