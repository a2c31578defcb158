// Default main() for integration tests (target shardcast_testenv_main, linked
// through shardcast_testenv). It lives in its own archive member, so a test
// binary that defines main() itself does not pull it in.
#include <gtest/gtest.h>

#include "tests/testenv/controlplane.h"

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  shardcast::testenv::InstallControlPlaneEnvironment();
  return RUN_ALL_TESTS();
}
