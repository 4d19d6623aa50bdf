-- Dropout layers: Dropout, Dropout1d, Dropout2d, Dropout3d, AlphaDropout,
-- FeatureAlphaDropout. nn.Dropout([p=0.5, inplace=false]) or nn.Dropout({p=0.2}).
-- In training mode values (or whole channels) are zeroed with probability p and
-- the rest scaled by 1/(1-p); in eval mode (net:eval()) the layer is the identity.
local torch = require 'torch'
local nn = require 'nn'
local F = require 'nn.functional'
require 'nn.module'

local args = nn._args
local Module = nn.Module
local res = {}

local function make(name, fn)
  local C = torch.class('nn.' .. name, 'nn.Module')
  function C:__init(...)
    Module.__init(self)
    local a = args(name, { 'p', 'inplace' }, { p = 0.5, inplace = false }, ...)
    if type(a.p) ~= 'number' or a.p ~= a.p or a.p < 0 or a.p > 1 then
      error(('%s: dropout probability has to be between 0 and 1, but got %s'):format(name, tostring(a.p)), 2)
    end
    if type(a.inplace) ~= 'boolean' then
      error(('%s: inplace must be a boolean, got %s'):format(name, type(a.inplace)), 2)
    end
    self.p, self.inplace = a.p, a.inplace
  end
  function C:forward(x)
    if not torch.isTensor(x) then error(name .. ': expected a tensor as input, got ' .. torch.type(x), 2) end
    return fn(x, self.p, self.training, self.inplace)
  end
  function C:extra_repr()
    return ('p=%s, inplace=%s'):format(nn._repr(self.p), tostring(self.inplace))
  end
  res[name] = C
end

make('Dropout', F.dropout)
make('Dropout1d', F.dropout1d)
make('Dropout2d', F.dropout2d)
make('Dropout3d', F.dropout3d)
make('AlphaDropout', F.alpha_dropout)
make('FeatureAlphaDropout', F.feature_alpha_dropout)

return res
