// tests/support/test_program.cpp: metamerlab-test, the program the black-box tests run: the
// product's program layer (app/program) with the tests' own networks registered first.
#include "app/program/program.h"
#include "tests/support/test_models.h"

int main(int argc, char** argv) {
  mm::test::register_test_models();
  return mm::app::program_main(argc, argv);
}
