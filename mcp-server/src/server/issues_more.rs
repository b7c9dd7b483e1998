//! Tools of this group: argument types and the mapping onto [`JiraClient`]
//! methods (the Jira logic lives in `jira/`).

#[allow(unused_imports)]
use super::*;

#[tool_router(router = issues_more_router, vis = "pub(super)", allow_empty)]
impl JiraMcp {}
