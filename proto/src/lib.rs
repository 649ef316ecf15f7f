//! The gRPC contracts of the platform (`proto/pizza/**`), generated at build time.
//!
//! Packages are versioned (`v1`) and change only additively.

/// `pizza.auth.v1`: token verification, served by pizza-login.
pub mod auth {
    pub mod v1 {
        tonic::include_proto!("pizza.auth.v1");
    }
}

/// `pizza.menu.v1`: price lookup, served by pizza-menu.
pub mod menu {
    pub mod v1 {
        tonic::include_proto!("pizza.menu.v1");
    }
}

/// The encoded descriptor set of every package, for gRPC reflection.
pub const FILE_DESCRIPTOR_SET: &[u8] = tonic::include_file_descriptor_set!("pizza_descriptor");
