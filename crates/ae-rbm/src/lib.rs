//! Restricted Boltzmann machines trained by contrastive divergence (CD-k), the building
//! block of Hinton & Salakhutdinov (2006)'s pretraining.
//!
//! Plain tensor algebra on any burn backend, no autodiff: the CD update is an explicit
//! difference of data and model correlations.

pub mod ae_stack;
pub mod error;
pub mod rbm;
pub mod stack;

pub use ae_stack::pretrain_autoencoders;
pub use error::{RbmError, Result};
pub use rbm::{
    CdStats, CheckedParams, HiddenUnits, Rbm, RbmConfig, RbmState, TrainParams, VisibleUnits,
};
pub use stack::{
    CheckedStack, LayerEpoch, StackProgress, StackSpec, StackState, pretrain, pretrain_resumable,
    unroll, up_down,
};
