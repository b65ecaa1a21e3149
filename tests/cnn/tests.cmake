# cnn tests beyond the auto-registered test_*.c: the PyTorch parity fixture.
# reference/cnn_layers.py regenerates cnn_layers.safetensors on every run (none are committed);
# cnn/test_parity reads it from its working directory, ${VTAG_FIXTURES}.
add_test(NAME cnn/parity_fixture
         COMMAND ${VTAG_PYTHON} ${PROJECT_SOURCE_DIR}/reference/cnn_layers.py --out ${VTAG_FIXTURES}/cnn_layers.safetensors
         WORKING_DIRECTORY ${VTAG_FIXTURES})
set_tests_properties(cnn/parity_fixture PROPERTIES FIXTURES_SETUP cnn_layers)
set_tests_properties(cnn/test_parity PROPERTIES FIXTURES_REQUIRED cnn_layers)
