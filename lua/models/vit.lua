-- Vision Transformer B/16 as torchvision builds it (torchvision/models/vision_transformer.py):
-- class_token, conv_proj, encoder (pos_embedding, layers.encoder_layer_N, ln), heads.head.
-- image_size (default 224) must be a multiple of the patch size; inputs must have it.
local torch = require 'torch'
local nn = require 'nn'
local U = require 'models.util'

local M = {}

local function mlp_block(dim, mlp_dim, dropout)
  local m = nn.Sequential(nn.Linear(dim, mlp_dim), nn.GELU(), nn.Dropout(dropout), nn.Linear(mlp_dim, dim),
    nn.Dropout(dropout))
  U.each(m, nn.Linear, function(l)
    nn.init.xavier_uniform_(l.weight)
    nn.init.normal_(l.bias, 0, 1e-6)
  end)
  return m
end

local EncoderBlock = torch.class('models.EncoderBlock', 'nn.Module')

function EncoderBlock:__init(heads, dim, mlp_dim, dropout, attention_dropout)
  nn.Module.__init(self)
  self.num_heads = heads
  self.ln_1 = nn.LayerNorm(dim, { eps = 1e-6 })
  self.self_attention = nn.MultiheadAttention(dim, heads, { dropout = attention_dropout, batch_first = true })
  self.dropout = nn.Dropout(dropout)
  self.ln_2 = nn.LayerNorm(dim, { eps = 1e-6 })
  self.mlp = mlp_block(dim, mlp_dim, dropout)
end

function EncoderBlock:forward(input)
  local x = self.ln_1(input)
  x = self.self_attention(x, x, x, { need_weights = false })
  x = self.dropout(x) + input
  return x + self.mlp(self.ln_2(x))
end

local Encoder = torch.class('models.Encoder', 'nn.Module')

function Encoder:__init(seq_length, num_layers, heads, dim, mlp_dim, dropout, attention_dropout)
  nn.Module.__init(self)
  self.pos_embedding = nn.Parameter(torch.empty(1, seq_length, dim):normal_(0, 0.02))
  self.dropout = nn.Dropout(dropout)
  local layers = {}
  for i = 1, num_layers do
    layers[i] = { 'encoder_layer_' .. (i - 1), EncoderBlock(heads, dim, mlp_dim, dropout, attention_dropout) }
  end
  self.layers = nn.Sequential(layers)
  self.ln = nn.LayerNorm(dim, { eps = 1e-6 })
end

function Encoder:forward(x)
  return self.ln(self.layers(self.dropout(x + self.pos_embedding)))
end

local VisionTransformer = torch.class('models.VisionTransformer', 'nn.Module')

function VisionTransformer:__init(image_size, patch, num_layers, heads, dim, mlp_dim, o)
  nn.Module.__init(self)
  if image_size % patch ~= 0 then
    error(('VisionTransformer: image_size (%d) must be a multiple of the patch size (%d)'):format(image_size, patch), 3)
  end
  self.image_size, self.patch_size, self.hidden_dim = image_size, patch, dim
  self.conv_proj = nn.Conv2d(3, dim, patch, { stride = patch })
  local seq = (image_size // patch) ^ 2 // 1
  self.class_token = nn.Parameter(torch.zeros(1, 1, dim))
  self.encoder = Encoder(math.tointeger(seq + 1), num_layers, heads, dim, mlp_dim, o.dropout, o.attention_dropout)
  self.seq_length = math.tointeger(seq + 1)
  local heads_layers = {}
  if o.representation_size then
    heads_layers = { { 'pre_logits', nn.Linear(dim, o.representation_size) }, { 'act', nn.Tanh() },
      { 'head', nn.Linear(o.representation_size, o.num_classes) } }
  else
    heads_layers = { { 'head', nn.Linear(dim, o.num_classes) } }
  end
  self.heads = nn.Sequential(heads_layers)
  local fan_in = 3 * patch * patch
  nn.init.trunc_normal_(self.conv_proj.weight, { std = math.sqrt(1 / fan_in) })
  nn.init.zeros_(self.conv_proj.bias)
  if o.representation_size then
    nn.init.trunc_normal_(self.heads.pre_logits.weight, { std = math.sqrt(1 / dim) })
    nn.init.zeros_(self.heads.pre_logits.bias)
  end
  nn.init.zeros_(self.heads.head.weight)
  nn.init.zeros_(self.heads.head.bias)
end

function VisionTransformer:forward(x)
  local n, h, w = x:size(1), x:size(3), x:size(4)
  if h ~= self.image_size or w ~= self.image_size then
    error(('VisionTransformer: expected %dx%d images, got %dx%d'):format(self.image_size, self.image_size, h, w), 2)
  end
  local p = self.patch_size
  x = self.conv_proj(x):reshape(n, self.hidden_dim, (h // p) * (w // p)):permute(1, 3, 2)
  x = torch.cat({ self.class_token:expand(n, -1, -1), x }, 2)
  x = self.encoder(x)
  return self.heads(x:select(2, 1))
end

function M.vit_b_16(o)
  local a = U.opts('vit_b_16', o, { 'num_classes', 'weights', 'image_size', 'dropout', 'attention_dropout',
    'representation_size' }, { num_classes = 1000, image_size = 224, dropout = 0.0, attention_dropout = 0.0 })
  return U.finish(VisionTransformer(a.image_size, 16, 12, 12, 768, 3072, a), a)
end
M.VisionTransformer = VisionTransformer

return M
