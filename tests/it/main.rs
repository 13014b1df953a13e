//! The one integration-test binary: in-process API tests through the
//! router (no socket), replay of captured SDK requests, the store
//! conformance suite, and a few tests that run the real binary.

mod adversarial;
mod binary;
mod certcentral;
mod copy;
mod digicert_replay;
mod multinode;
mod multinode_cache;
mod rpc_auth;
mod rpc_cas;
mod rpc_iam;
mod rpc_ram;
mod store_conformance;
mod support;
mod vectors;
