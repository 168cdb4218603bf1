//! Generated protobuf and gRPC types for the `yui.v1` package.
//!
//! This crate holds generated code only. The rest of yui speaks `yui-core`
//! types; conversions live in `yui-net`.
#![allow(missing_docs, clippy::all, clippy::pedantic)]
#![forbid(unsafe_code)]

/// `yui.v1`: entries, bodies and the federation service.
pub mod v1 {
    tonic::include_proto!("yui.v1");
}

/// The encoded `FileDescriptorSet` of `proto/yui/v1`, for server reflection.
pub const FILE_DESCRIPTOR_SET: &[u8] =
    include_bytes!(concat!(env!("OUT_DIR"), "/yui_descriptor.bin"));
