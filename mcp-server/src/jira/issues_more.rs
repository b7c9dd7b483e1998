//! The Jira logic behind this group of tools.

#[allow(unused_imports)]
use super::*;

impl JiraClient {}
