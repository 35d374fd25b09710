use arrow::datatypes::{Field, Schema, SchemaRef};

/// What a plugin is, takes and produces (the contract's `describe`).
#[derive(Debug, Clone)]
pub struct Info {
    pub name: String,
    pub version: String,
    pub description: String,
    pub inputs: Vec<Input>,
    pub outputs: Vec<Output>,
    pub stateful: bool,
}

impl Info {
    pub fn new(name: &str, version: &str, description: &str) -> Self {
        Info {
            name: name.into(),
            version: version.into(),
            description: description.into(),
            inputs: Vec::new(),
            outputs: Vec::new(),
            stateful: false,
        }
    }

    pub fn input(mut self, input: Input) -> Self {
        self.inputs.push(input);
        self
    }

    pub fn output(mut self, output: Output) -> Self {
        self.outputs.push(output);
        self
    }

    /// Marks the plugin as keeping state across batches.
    pub fn stateful(mut self) -> Self {
        self.stateful = true;
        self
    }
}

/// A named input: the columns it must have, and whether others may come along.
#[derive(Debug, Clone)]
pub struct Input {
    pub name: String,
    pub description: String,
    pub required: Vec<Field>,
    pub extra_columns: bool,
}

impl Input {
    /// An input that takes any columns.
    pub fn any(name: &str) -> Self {
        Input {
            name: name.into(),
            description: String::new(),
            required: Vec::new(),
            extra_columns: true,
        }
    }

    /// An input that must have these columns (more are allowed unless [`Input::exact`]).
    pub fn with_columns(name: &str, required: Vec<Field>) -> Self {
        Input {
            name: name.into(),
            description: String::new(),
            required,
            extra_columns: true,
        }
    }

    /// Refuses columns beyond the required ones.
    pub fn exact(mut self) -> Self {
        self.extra_columns = false;
        self
    }

    pub fn describe(mut self, description: &str) -> Self {
        self.description = description.into();
        self
    }

    pub(crate) fn required_schema(&self) -> Schema {
        Schema::new(self.required.clone())
    }
}

/// A named output, with its schema when it does not depend on the input or config.
#[derive(Debug, Clone)]
pub struct Output {
    pub name: String,
    pub description: String,
    pub schema: Option<SchemaRef>,
}

impl Output {
    pub fn fixed(name: &str, schema: SchemaRef) -> Self {
        Output {
            name: name.into(),
            description: String::new(),
            schema: Some(schema),
        }
    }

    /// An output whose schema the session states after `open`.
    pub fn dynamic(name: &str) -> Self {
        Output {
            name: name.into(),
            description: String::new(),
            schema: None,
        }
    }

    pub fn describe(mut self, description: &str) -> Self {
        self.description = description.into();
        self
    }
}
