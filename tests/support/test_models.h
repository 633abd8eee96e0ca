// tests/support/test_models.h: the networks only tests use, registered by the tests (never
// shipped in the product's zoo).
//
// zoo:tiny-cnn   metamerlab's image network (synth/nets.h: conv1, stage1..stage3, avgpool,
//                logits) at width 16 over 64x64 RGB, four classes (checker, disc, ring,
//                stripes), with seeded untrained weights: fast, deterministic, and the same
//                code path as the bundled networks.
#pragma once

namespace mm::test {

// Registers the test networks with the engine's registry (synth/model.h). Idempotent.
void register_test_models();

}  // namespace mm::test
