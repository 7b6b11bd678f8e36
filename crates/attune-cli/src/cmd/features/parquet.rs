//! The feature table as Apache Parquet: `user_id` then the table's columns in order, a column
//! of text where any cell is text (attributes), else a nullable float64, so absent values stay
//! absent (null) as in the CSV (empty) and JSON lines (`null`) forms. One row group,
//! uncompressed: the table has one row per user and is written whole.

use std::io::Write;
use std::sync::Arc;

use anyhow::Context as _;
use arrow_array::{ArrayRef, Float64Array, RecordBatch, StringArray};
use arrow_schema::{DataType, Field, Schema};
use parquet::arrow::ArrowWriter;

use super::{Cell, Table};

/// Write `table` to `out` (the bytes are built in memory: the Arrow writer needs a `Send`
/// sink and `Output` hands out a plain one).
pub(super) fn write(table: &Table, out: &mut dyn Write) -> anyhow::Result<()> {
    let mut fields = vec![Field::new("user_id", DataType::Utf8, false)];
    let mut columns: Vec<ArrayRef> = vec![Arc::new(StringArray::from_iter_values(&table.users))];
    for (j, name) in table.columns.iter().enumerate() {
        let cells = table.cells.iter().map(|row| &row[j]);
        let text = table
            .cells
            .iter()
            .any(|row| matches!(row[j], Cell::Text(_)));
        let array: ArrayRef = if text {
            Arc::new(
                cells
                    .map(|c| match c {
                        Cell::Text(s) => Some(s.clone()),
                        Cell::Number(x) => Some(x.to_string()),
                        Cell::Missing => None,
                    })
                    .collect::<StringArray>(),
            )
        } else {
            Arc::new(
                cells
                    .map(|c| match c {
                        Cell::Number(x) => Some(*x),
                        _ => None,
                    })
                    .collect::<Float64Array>(),
            )
        };
        fields.push(Field::new(name, array.data_type().clone(), true));
        columns.push(array);
    }
    let schema = Arc::new(Schema::new(fields));
    let batch = RecordBatch::try_new(schema.clone(), columns).context("building the table")?;
    let mut bytes = Vec::new();
    let mut writer =
        ArrowWriter::try_new(&mut bytes, schema, None).context("starting the Parquet file")?;
    writer.write(&batch).context("writing the Parquet file")?;
    writer.close().context("finishing the Parquet file")?;
    out.write_all(&bytes).context("writing the output")?;
    Ok(())
}
