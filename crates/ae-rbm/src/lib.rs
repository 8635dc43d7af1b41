//! ae-rbm
