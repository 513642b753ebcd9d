//! The ecosystem graph over services: dependency and data-flow edges. (Scaffold: being written.)
