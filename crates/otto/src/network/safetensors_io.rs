//! Saving and loading an [`Mlp`] as safetensors with PyTorch `nn.Sequential` names, so that a
//! trained otto field loads into PyTorch and back.
//!
//! Tensors (f32, PyTorch layout): linear layer l (0 ≤ l ≤ depth) is module `2l` of the Sequential,
//! `Linear, act, Linear, act, …, Linear`: keys `0.weight` `[width, in]`, `0.bias` `[width]`,
//! `2.weight`, `2.bias`, …, `{2·depth}.weight` `[output_dim, width]`. Sinusoidal and Fourier nets
//! add `time_embedding.frequencies` `[dim/2]` (the angular frequencies ω, not a Sequential key).
//! The metadata (`otto.*` keys) records the [`MlpConfig`], so [`Mlp::load_safetensors`] rebuilds the
//! network from the file alone; [`Mlp::load_params_safetensors`] loads the tensors into an existing
//! network (e.g. a state dict PyTorch wrote, which has no otto metadata).
//!
//! Loading otto weights into PyTorch (here 3→64→64→64→2 SELU, t appended):
//! ```python
//! import torch, torch.nn as nn
//! from safetensors.torch import load_file
//! state = load_file("model.safetensors")                      # 0.weight, 0.bias, 2.weight, ...
//! omega = state.pop("time_embedding.frequencies", None)       # only Sinusoidal / Fourier nets
//! net = nn.Sequential(nn.Linear(3, 64), nn.SELU(), nn.Linear(64, 64), nn.SELU(),
//!                     nn.Linear(64, 64), nn.SELU(), nn.Linear(64, 2))
//! net.load_state_dict(state)
//! v = net(torch.cat([x, t[:, None]], dim=1))   # or [x, sin(t ω), cos(t ω)] with omega
//! ```
//! A residual net keeps the same keys; its module overrides `forward` to add the skip around each
//! hidden width→width layer (`h = h + act(lin(h))`): see `ResidualSequential` in
//! `bench/peers/mlp_check.py`.

use std::collections::{BTreeMap, HashMap};
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use safetensors::tensor::TensorView;
use safetensors::{Dtype, SafeTensors};

use super::{check_len, Activation, Mlp, MlpConfig, NetworkError, TimeEmbedding};

/// The key of the time-embedding frequencies.
pub const FREQUENCIES_KEY: &str = "time_embedding.frequencies";

impl Mlp {
    /// The PyTorch `nn.Sequential` key of each linear layer's weight and bias, with its shape.
    pub fn tensor_names(&self) -> Vec<(String, Vec<usize>)> {
        let mut names = Vec::with_capacity(2 * self.layers().len());
        for (l, layer) in self.layers().iter().enumerate() {
            names.push((
                format!("{}.weight", 2 * l),
                vec![layer.out_dim, layer.in_dim],
            ));
            names.push((format!("{}.bias", 2 * l), vec![layer.out_dim]));
        }
        names
    }

    /// Writes the parameters (and time frequencies and config metadata) to `path` atomically: into
    /// a temporary file beside it, flushed to disk, then renamed over `path`.
    pub fn save_safetensors(&self, path: impl AsRef<Path>) -> Result<(), NetworkError> {
        self.save_params_safetensors(self.params(), path)
    }

    /// As [`Mlp::save_safetensors`], but with `params` (e.g. an [`super::Ema`] shadow) in place of
    /// the network's own parameters.
    pub fn save_params_safetensors(
        &self,
        params: &[f32],
        path: impl AsRef<Path>,
    ) -> Result<(), NetworkError> {
        let path = path.as_ref();
        check_len("params", self.num_params(), params.len())?;
        let mut blobs: Vec<(String, Vec<usize>, Vec<u8>)> = Vec::new();
        for (pair, layer) in self.tensor_names().chunks(2).zip(self.layers()) {
            let [(weight_key, weight_shape), (bias_key, bias_shape)] = pair else {
                unreachable!("names come in weight, bias pairs")
            };
            blobs.push((
                weight_key.clone(),
                weight_shape.clone(),
                le_bytes(&params[layer.weight()]),
            ));
            blobs.push((
                bias_key.clone(),
                bias_shape.clone(),
                le_bytes(&params[layer.bias()]),
            ));
        }
        if !self.frequencies().is_empty() {
            blobs.push((
                FREQUENCIES_KEY.to_string(),
                vec![self.frequencies().len()],
                le_bytes(self.frequencies()),
            ));
        }
        let views = blobs
            .iter()
            .map(|(key, shape, bytes)| {
                let view = TensorView::new(Dtype::F32, shape.clone(), bytes)
                    .expect("shape and byte length agree by construction");
                (key.clone(), view)
            })
            .collect::<Vec<_>>();
        let bytes = safetensors::serialize(views, Some(metadata(self.config()))).map_err(|e| {
            NetworkError::Safetensors {
                path: path.to_path_buf(),
                message: e.to_string(),
            }
        })?;
        write_atomically(path, &sorted_header(&bytes))
    }

    /// Reads a network written by [`Mlp::save_safetensors`]: the config from the metadata, then
    /// every tensor, checked against the shape the config implies.
    pub fn load_safetensors(path: impl AsRef<Path>) -> Result<Mlp, NetworkError> {
        let path = path.as_ref();
        let bytes = fs::read(path).map_err(|error| NetworkError::Io {
            path: path.to_path_buf(),
            error,
        })?;
        let (_, header) = SafeTensors::read_metadata(&bytes).map_err(|e| unreadable(path, e))?;
        let empty = HashMap::new();
        let config = parse_config(path, header.metadata().as_ref().unwrap_or(&empty))?;
        let mut mlp = Mlp::zeroed(config)?;
        mlp.read_tensors(path, &bytes)?;
        Ok(mlp)
    }

    /// Loads the tensors of `path` into this network (its architecture must match the shapes);
    /// `time_embedding.frequencies`, when present, replaces the network's frequencies.
    pub fn load_params_safetensors(&mut self, path: impl AsRef<Path>) -> Result<(), NetworkError> {
        let path = path.as_ref();
        let bytes = fs::read(path).map_err(|error| NetworkError::Io {
            path: path.to_path_buf(),
            error,
        })?;
        self.read_tensors(path, &bytes)
    }

    fn read_tensors(&mut self, path: &Path, bytes: &[u8]) -> Result<(), NetworkError> {
        let file = SafeTensors::deserialize(bytes).map_err(|e| unreadable(path, e))?;
        let names = self.tensor_names();
        let freq_len = self.config().time_embedding.dim() / 2;
        let mut keys = file.names();
        keys.sort_unstable();
        for key in keys {
            let known = names.iter().any(|(name, _)| name == key)
                || (key == FREQUENCIES_KEY && freq_len > 0);
            if !known {
                let mut expected: Vec<&str> = names.iter().map(|(name, _)| name.as_str()).collect();
                if freq_len > 0 {
                    expected.push(FREQUENCIES_KEY);
                }
                return Err(NetworkError::UnexpectedTensor {
                    path: path.to_path_buf(),
                    key: key.to_string(),
                    expected: expected.join(", "),
                });
            }
        }
        let layers = self.layers().to_vec();
        for ((weight, bias), layer) in names.chunks(2).map(|c| (&c[0], &c[1])).zip(&layers) {
            read_f32(
                path,
                &file,
                &weight.0,
                &weight.1,
                &mut self.params_mut()[layer.weight()],
            )?;
            read_f32(
                path,
                &file,
                &bias.0,
                &bias.1,
                &mut self.params_mut()[layer.bias()],
            )?;
        }
        if !matches!(
            self.config().time_embedding,
            TimeEmbedding::Concat | TimeEmbedding::None
        ) {
            let mut frequencies = vec![0.0; freq_len];
            match file.tensor(FREQUENCIES_KEY) {
                Ok(_) => {
                    read_f32(path, &file, FREQUENCIES_KEY, &[freq_len], &mut frequencies)?;
                    self.set_frequencies(frequencies);
                }
                Err(_) if !self.frequencies().is_empty() => {}
                Err(_) => {
                    return Err(NetworkError::MissingTensor {
                        path: path.to_path_buf(),
                        key: FREQUENCIES_KEY.into(),
                        expected: vec![freq_len],
                    })
                }
            }
        }
        Ok(())
    }
}

fn read_f32(
    path: &Path,
    file: &SafeTensors<'_>,
    key: &str,
    shape: &[usize],
    dst: &mut [f32],
) -> Result<(), NetworkError> {
    let view = file.tensor(key).map_err(|_| NetworkError::MissingTensor {
        path: path.to_path_buf(),
        key: key.to_string(),
        expected: shape.to_vec(),
    })?;
    if view.dtype() != Dtype::F32 || view.shape() != shape {
        return Err(NetworkError::TensorMismatch {
            path: path.to_path_buf(),
            key: key.to_string(),
            expected: shape.to_vec(),
            got: format!("{:?} of shape {:?}", view.dtype(), view.shape()),
        });
    }
    for (d, chunk) in dst.iter_mut().zip(view.data().chunks_exact(4)) {
        *d = f32::from_le_bytes([chunk[0], chunk[1], chunk[2], chunk[3]]);
    }
    Ok(())
}

fn le_bytes(values: &[f32]) -> Vec<u8> {
    values.iter().flat_map(|v| v.to_le_bytes()).collect()
}

fn unreadable(path: &Path, e: safetensors::SafeTensorError) -> NetworkError {
    NetworkError::Safetensors {
        path: path.to_path_buf(),
        message: e.to_string(),
    }
}

/// `bytes` (a safetensors file) with the keys of its JSON header in sorted order. `safetensors`
/// writes the metadata from a `HashMap`, whose order changes from run to run; sorting makes equal
/// networks give byte-identical files. The header is padded with spaces to a multiple of 8 bytes,
/// as the format asks; offsets in it are relative to the data, which is unchanged.
fn sorted_header(bytes: &[u8]) -> Vec<u8> {
    let (len, rest) = bytes.split_at(8);
    let len = u64::from_le_bytes(len.try_into().expect("8 bytes")) as usize;
    let (header, data) = rest.split_at(len);
    let mut header: BTreeMap<String, serde_json::Value> =
        serde_json::from_slice(header).expect("safetensors wrote a JSON object");
    if let Some(meta) = header.get_mut(METADATA_KEY) {
        let sorted: BTreeMap<String, serde_json::Value> =
            serde_json::from_value(meta.take()).expect("the metadata is a JSON object");
        *meta = serde_json::to_value(sorted).expect("strings serialize");
    }
    let mut text = serde_json::to_vec(&header).expect("a JSON object serializes");
    text.resize(text.len().next_multiple_of(8), b' ');
    let mut out = Vec::with_capacity(8 + text.len() + data.len());
    out.extend_from_slice(&(text.len() as u64).to_le_bytes());
    out.extend_from_slice(&text);
    out.extend_from_slice(data);
    out
}

/// The header key under which safetensors keeps the free-form string metadata.
const METADATA_KEY: &str = "__metadata__";

/// The config as `otto.*` metadata, plus the equivalent PyTorch modules for readers of the file.
fn metadata(config: &MlpConfig) -> HashMap<String, String> {
    let mut meta = HashMap::new();
    let mut put = |k: &str, v: String| {
        meta.insert(format!("otto.{k}"), v);
    };
    put("network", "mlp".into());
    put("input_dim", config.input_dim.to_string());
    put("output_dim", config.output_dim.to_string());
    put("width", config.width.to_string());
    put("depth", config.depth.to_string());
    put("activation", config.activation.name().into());
    put("residual", config.residual.to_string());
    put("time_embedding", config.time_embedding.name().into());
    match config.time_embedding {
        TimeEmbedding::Concat | TimeEmbedding::None => {}
        TimeEmbedding::Sinusoidal { dim } => put("time_embedding.dim", dim.to_string()),
        TimeEmbedding::Fourier { dim, scale } => {
            put("time_embedding.dim", dim.to_string());
            put("time_embedding.scale", scale.to_string());
        }
    }
    let mut modules = Vec::new();
    for l in 0..=config.depth {
        let inputs = if l == 0 {
            config.input_cols()
        } else {
            config.width
        };
        let outputs = if l == config.depth {
            config.output_dim
        } else {
            config.width
        };
        modules.push(format!("nn.Linear({inputs}, {outputs})"));
        if l < config.depth {
            modules.push(config.activation.torch_module().to_string());
        }
    }
    put("torch_modules", modules.join(", "));
    meta.insert("format".into(), "pt".into());
    meta
}

fn parse_config(path: &Path, meta: &HashMap<String, String>) -> Result<MlpConfig, NetworkError> {
    let get = |key: &str| -> Result<&String, NetworkError> {
        meta.get(&format!("otto.{key}"))
            .ok_or_else(|| NetworkError::Metadata {
                path: path.to_path_buf(),
                key: format!("otto.{key}"),
                message:
                    "missing (not written by otto; build the Mlp and use load_params_safetensors)"
                        .into(),
            })
    };
    let bad = |key: &str, value: &str| NetworkError::Metadata {
        path: path.to_path_buf(),
        key: format!("otto.{key}"),
        message: format!("cannot parse '{value}'"),
    };
    let number = |key: &str| -> Result<usize, NetworkError> {
        let value = get(key)?;
        value.parse().map_err(|_| bad(key, value))
    };
    let activation_name = get("activation")?;
    let activation: Activation = activation_name
        .parse()
        .map_err(|_| bad("activation", activation_name))?;
    let residual_text = get("residual")?;
    let residual: bool = residual_text
        .parse()
        .map_err(|_| bad("residual", residual_text))?;
    let embedding_name = get("time_embedding")?;
    let time_embedding = match embedding_name.as_str() {
        "concat" => TimeEmbedding::Concat,
        "none" => TimeEmbedding::None,
        "sinusoidal" => TimeEmbedding::Sinusoidal {
            dim: number("time_embedding.dim")?,
        },
        "fourier" => {
            let scale_text = get("time_embedding.scale")?;
            let scale = scale_text
                .parse()
                .map_err(|_| bad("time_embedding.scale", scale_text))?;
            TimeEmbedding::Fourier {
                dim: number("time_embedding.dim")?,
                scale,
            }
        }
        other => return Err(bad("time_embedding", other)),
    };
    Ok(MlpConfig {
        input_dim: number("input_dim")?,
        output_dim: number("output_dim")?,
        width: number("width")?,
        depth: number("depth")?,
        activation,
        time_embedding,
        residual,
    })
}

/// Writes `bytes` to a temporary file in `path`'s directory, syncs it, and renames it over `path`,
/// so a reader sees either the old file or the complete new one.
fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), NetworkError> {
    let io = |error| NetworkError::Io {
        path: path.to_path_buf(),
        error,
    };
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp: PathBuf = path.with_file_name(format!(".{name}.tmp.{}", std::process::id()));
    let result = (|| {
        let mut file = fs::File::create(&tmp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result.map_err(io)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::network::Workspace;

    fn temp_dir(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("otto-network-{name}-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        dir
    }

    /// Save → load restores the config, every parameter bit for bit, and the time frequencies,
    /// for each embedding and with residual layers; nothing but the file is left in the directory.
    #[test]
    fn save_load_round_trip_is_bit_exact() {
        let dir = temp_dir("round-trip");
        for (i, embedding) in [
            TimeEmbedding::Concat,
            TimeEmbedding::None,
            TimeEmbedding::Sinusoidal { dim: 6 },
            TimeEmbedding::Fourier { dim: 4, scale: 0.7 },
        ]
        .into_iter()
        .enumerate()
        {
            let config = MlpConfig::new(3, 2)
                .width(8)
                .depth(3)
                .activation(Activation::Gelu)
                .time_embedding(embedding)
                .residual(i == 2);
            let mlp = Mlp::new(config, 9).unwrap();
            let path = dir.join(format!("model{i}.safetensors"));
            mlp.save_safetensors(&path).unwrap();
            let loaded = Mlp::load_safetensors(&path).unwrap();
            assert_eq!(loaded.config(), mlp.config());
            let bits = |m: &Mlp| {
                m.params()
                    .iter()
                    .chain(m.frequencies())
                    .map(|v| v.to_bits())
                    .collect::<Vec<_>>()
            };
            assert_eq!(bits(&loaded), bits(&mlp));
            let mut other = Mlp::new(config, 10).unwrap();
            other.load_params_safetensors(&path).unwrap();
            assert_eq!(bits(&other), bits(&mlp));
            // Same function, too.
            let mut ws = Workspace::new(&mlp, 2);
            let (t, x) = ([0.3_f32, 0.9], [0.1_f32, -0.2, 0.3, 0.4, 0.5, -0.6]);
            let (mut a, mut b) = ([0.0; 4], [0.0; 4]);
            mlp.forward(&t, &x, &mut a, &mut ws).unwrap();
            loaded.forward(&t, &x, &mut b, &mut ws).unwrap();
            assert_eq!(a, b);
            // Equal networks give equal bytes: the metadata (several keys, kept by safetensors
            // in a HashMap whose order varies between instances) is written sorted, and the
            // header stays padded to 8 bytes.
            let first = fs::read(&path).unwrap();
            for _ in 0..4 {
                mlp.save_safetensors(&path).unwrap();
                assert_eq!(fs::read(&path).unwrap(), first);
            }
            let header_len = u64::from_le_bytes(first[..8].try_into().unwrap());
            assert_eq!(header_len % 8, 0);
            let text = std::str::from_utf8(&first[8..8 + header_len as usize]).unwrap();
            let keys: Vec<usize> = ["otto.activation", "otto.depth", "otto.width"]
                .iter()
                .map(|k| text.find(k).unwrap_or_else(|| panic!("{k} in {text}")))
                .collect();
            assert!(keys.windows(2).all(|w| w[0] < w[1]), "{text}");
        }
        let leftovers: Vec<_> = fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .filter(|n| n.to_string_lossy().contains(".tmp"))
            .collect();
        assert!(leftovers.is_empty(), "temporary files left: {leftovers:?}");
        fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn mismatched_files_name_the_key_and_shape() {
        let dir = temp_dir("mismatch");
        let path = dir.join("wide.safetensors");
        Mlp::new(MlpConfig::default().width(32), 0)
            .unwrap()
            .save_safetensors(&path)
            .unwrap();
        let mut narrow = Mlp::new(MlpConfig::default(), 0).unwrap();
        let err = narrow
            .load_params_safetensors(&path)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains(
                "tensor '0.weight' is F32 of shape [32, 3], expected f32 of shape [64, 3]"
            ),
            "{err}"
        );

        let deeper = dir.join("deeper.safetensors");
        Mlp::new(MlpConfig::default().depth(4), 0)
            .unwrap()
            .save_safetensors(&deeper)
            .unwrap();
        let err = narrow
            .load_params_safetensors(&deeper)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains(
                "unexpected tensor '8.bias'; this network's tensors are 0.weight, 0.bias, 2.weight"
            ),
            "{err}"
        );

        let partial = dir.join("partial.safetensors");
        let (weight, bias) = (le_bytes(&[0.0; 64 * 3]), le_bytes(&[0.0; 64]));
        let tensors = [
            (
                "0.weight",
                TensorView::new(Dtype::F32, vec![64, 3], &weight).unwrap(),
            ),
            (
                "0.bias",
                TensorView::new(Dtype::F32, vec![64], &bias).unwrap(),
            ),
        ];
        fs::write(&partial, safetensors::serialize(tensors, None).unwrap()).unwrap();
        let err = narrow
            .load_params_safetensors(&partial)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("missing tensor '2.weight' (expected f32 of shape [64, 64])"),
            "{err}"
        );
        let err = Mlp::load_safetensors(&partial).unwrap_err().to_string();
        assert!(err.contains("metadata 'otto.activation': missing"), "{err}");

        let garbage = dir.join("garbage.safetensors");
        fs::write(&garbage, b"not a safetensors file").unwrap();
        assert!(matches!(
            Mlp::load_safetensors(&garbage),
            Err(NetworkError::Safetensors { .. })
        ));
        assert!(matches!(
            Mlp::load_safetensors(dir.join("absent.safetensors")),
            Err(NetworkError::Io { .. })
        ));
        fs::remove_dir_all(dir).unwrap();
    }
}
