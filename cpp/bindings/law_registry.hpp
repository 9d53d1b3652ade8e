// The one list of compiled laws and the names the Python layer knows them by.
#pragma once

#include "cptlaw/laws.hpp"

namespace cptlaw {
namespace bindings {

template <class Visitor>
void for_each_law(Visitor& v) {
  v.template operator()<laws::Annealing>("annealing");
  v.template operator()<laws::CPT>("cpt");
  v.template operator()<laws::Replay<false>>("replay_pt");
  v.template operator()<laws::Replay<true>>("replay_cpt");
  v.template operator()<laws::ModelSize>("model_size");
  v.template operator()<laws::OpenSource>("open_source");
  v.template operator()<laws::CPTPowerS2>("cpt_power_s2");
  v.template operator()<laws::OutOfDomain>("out_of_domain");
}

}  // namespace bindings
}  // namespace cptlaw
