-- Distance modules: CosineSimilarity and PairwiseDistance over nn.functional's forms.
local torch = require 'torch'
local nn = require 'nn'
local F = require 'nn.functional'
require 'nn.module'

local args = nn._args

local CosineSimilarity, Module = torch.class('nn.CosineSimilarity', 'nn.Module')

-- nn.CosineSimilarity([dim=2] [, eps=1e-8]) (dims are 1-based)
function CosineSimilarity:__init(...)
  Module.__init(self)
  local a = args('CosineSimilarity', { 'dim', 'eps' }, { dim = 2, eps = 1e-8 }, ...)
  self.dim, self.eps = a.dim, a.eps
end

function CosineSimilarity:forward(x1, x2) return F.cosine_similarity(x1, x2, self.dim, self.eps) end

local PairwiseDistance = torch.class('nn.PairwiseDistance', 'nn.Module')

-- nn.PairwiseDistance([p=2] [, eps=1e-6] [, keepdim=false])
function PairwiseDistance:__init(...)
  Module.__init(self)
  local a = args('PairwiseDistance', { 'p', 'eps', 'keepdim' }, { p = 2, eps = 1e-6, keepdim = false }, ...)
  self.norm, self.eps, self.keepdim = a.p, a.eps, a.keepdim
end

function PairwiseDistance:forward(x1, x2) return F.pairwise_distance(x1, x2, self.norm, self.eps, self.keepdim) end
