# caption tests beyond the auto-registered test_*.c: the PyTorch reference's self-test, and the
# parity fixtures reference/caption_fixtures.py writes (caption_<model>.safetensors, none committed)
# into ${VTAG_FIXTURES}, the working directory of caption/test_parity.
add_test(NAME caption/reference_selftest
         COMMAND ${VTAG_PYTHON} ${PROJECT_SOURCE_DIR}/reference/models.py --selftest)
add_test(NAME caption/parity_fixture
         COMMAND ${VTAG_PYTHON} ${PROJECT_SOURCE_DIR}/reference/caption_fixtures.py --out ${VTAG_FIXTURES}
         WORKING_DIRECTORY ${VTAG_FIXTURES})
set_tests_properties(caption/parity_fixture PROPERTIES FIXTURES_SETUP caption_models)
set_tests_properties(caption/test_parity PROPERTIES FIXTURES_REQUIRED caption_models)
# vtag train / vtag caption end to end: resume after SIGKILL, reference agreement, bad input.
add_test(NAME caption/cli_train
         COMMAND ${VTAG_PYTHON} ${CMAKE_CURRENT_SOURCE_DIR}/caption/cli_train.py $<TARGET_FILE:vtag>
                 ${VTAG_FIXTURES}/cli_train)
set_tests_properties(caption/cli_train PROPERTIES TIMEOUT 900)
# SCST (issue 5): reference/scst.py's self-test, and the fixtures of one SCST update (fixed samples and
# rewards) that reference/scst_fixtures.py writes (scst_<model>.safetensors) for caption/test_scst_parity.
add_test(NAME caption/scst_reference_selftest
         COMMAND ${VTAG_PYTHON} ${PROJECT_SOURCE_DIR}/reference/scst.py --selftest)
add_test(NAME caption/scst_parity_fixture
         COMMAND ${VTAG_PYTHON} ${PROJECT_SOURCE_DIR}/reference/scst_fixtures.py --out ${VTAG_FIXTURES}
         WORKING_DIRECTORY ${VTAG_FIXTURES})
set_tests_properties(caption/scst_parity_fixture PROPERTIES FIXTURES_SETUP caption_scst)
set_tests_properties(caption/test_scst_parity PROPERTIES FIXTURES_REQUIRED caption_scst)
# SCST raises validation CIDEr-D (issue 5, point 2): a feature set where the converged XE model's greedy
# captions stop early by construction; XE, then SCST, for each model (tests/caption/scst_gain.py).
add_test(NAME caption/scst_gain
         COMMAND ${VTAG_PYTHON} ${CMAKE_CURRENT_SOURCE_DIR}/caption/scst_gain.py $<TARGET_FILE:vtag>
                 ${VTAG_FIXTURES}/scst_gain)
# 171 s in the ASan build with both cores busy: a hang guard of 1200 s
set_tests_properties(caption/scst_gain PROPERTIES TIMEOUT 1200)
# Hostile checkpoints and training states (issue 14, points 2 and 9): tiny files naming huge models are
# refused before allocation (peak RSS < 200 MB under /usr/bin/time -v), every state field is checked.
add_test(NAME caption/hostile_checkpoint
         COMMAND ${VTAG_PYTHON} ${CMAKE_CURRENT_SOURCE_DIR}/caption/hostile_checkpoint.py $<TARGET_FILE:vtag>
                 ${VTAG_FIXTURES}/hostile_checkpoint)
set_tests_properties(caption/hostile_checkpoint PROPERTIES TIMEOUT 300)
